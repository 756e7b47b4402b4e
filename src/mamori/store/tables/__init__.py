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
from mamori.store.tables.guideline import (
    GuidelineAnswer,
    GuidelineAnswerHistory,
    GuidelineAssessment,
    GuidelineCheckResult,
    GuidelineEvidence,
    GuidelineEvidenceBlob,
)
from mamori.store.tables.ingest import QuarantinedRecord, StoredEvent
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
from mamori.store.tables.service import (
    ContractRow,
    InvitationRow,
    OnboardingCaseRow,
    QuoteCounter,
    QuoteRow,
)

__all__ = [
    "ROLE_VALUES",
    "ApiKey",
    "AuditHead",
    "AuditLog",
    "Base",
    "ContractRow",
    "InvitationRow",
    "OnboardingCaseRow",
    "QuoteCounter",
    "QuoteRow",
    "GuidelineAnswer",
    "GuidelineAnswerHistory",
    "GuidelineAssessment",
    "GuidelineCheckResult",
    "GuidelineEvidence",
    "GuidelineEvidenceBlob",
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
    "QuarantinedRecord",
    "Role",
    "StoredEvent",
    "Tenant",
    "User",
    "operator_tenants",
]
