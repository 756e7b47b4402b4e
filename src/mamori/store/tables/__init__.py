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
from mamori.store.tables.respond import (
    RespondAction,
    RespondAlert,
    RespondBlob,
    RespondBlockEntry,
    RespondBreachTrack,
    RespondCommand,
    RespondDelivery,
    RespondIncident,
    RespondPage,
    RespondPlaybookRun,
    RespondRejectedAlert,
)

__all__ = [
    "ROLE_VALUES",
    "ApiKey",
    "AuditHead",
    "AuditLog",
    "Base",
    "RespondAction",
    "RespondAlert",
    "RespondBlob",
    "RespondBlockEntry",
    "RespondBreachTrack",
    "RespondCommand",
    "RespondDelivery",
    "RespondIncident",
    "RespondPage",
    "RespondPlaybookRun",
    "RespondRejectedAlert",
    "Role",
    "Tenant",
    "User",
    "operator_tenants",
]
