"""Errors of the response area (all under :class:`mamori.errors.MamoriError`)."""

from __future__ import annotations

from mamori.errors import MamoriError, ValidationError


class ConflictError(MamoriError):
    """Someone else changed the object since it was read (optimistic concurrency).

    The caller reloads, re-applies the change and tries again; nothing was written.
    """


class InvalidTransitionError(ValidationError):
    """An incident status change the state machine does not allow."""


class PlaybookError(MamoriError):
    """A playbook file that does not validate; carries file:line."""


class ActionError(MamoriError):
    """A response action that failed; recorded, never silent."""


class NotifyError(MamoriError):
    """A notification that could not be delivered (after the retries)."""


class UnknownTenantError(MamoriError):
    """An alert or request names a tenant mamori does not know."""


__all__ = [
    "ActionError",
    "ConflictError",
    "InvalidTransitionError",
    "NotifyError",
    "PlaybookError",
    "UnknownTenantError",
]
