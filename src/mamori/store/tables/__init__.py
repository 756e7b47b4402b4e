"""All tables, on one metadata.

Each area keeps its tables in ``tables/<area>.py`` and adds one import line here, so that
``Base.metadata`` (used by migrations and tests) knows the whole schema.
"""

from mamori.store.tables.base import Base
from mamori.store.tables.core import (
    ROLE_VALUES,
    ApiKey,
    AuditHead,
    AuditLog,
    Role,
    Tenant,
    User,
    operator_tenants,
)
from mamori.store.tables.ingest import QuarantinedRecord, StoredEvent

__all__ = [
    "ROLE_VALUES",
    "ApiKey",
    "AuditHead",
    "AuditLog",
    "Base",
    "QuarantinedRecord",
    "Role",
    "StoredEvent",
    "Tenant",
    "User",
    "operator_tenants",
]
