"""Errors of the service area, all inside mamori's one exception tree."""

from __future__ import annotations

from mamori.errors import MamoriError, NotFoundError, ValidationError


class ServiceDataError(MamoriError):
    """A price book, subsidy, insurance or criteria data file that does not validate.

    The message lists every problem found in the file, not only the first.
    """


class UnknownCourseError(NotFoundError, ValidationError):
    """A course name that is not in the price book."""


class NoSubsidyRulesError(NotFoundError, ValidationError):
    """A fiscal year for which no IT-subsidy rules are known."""


class OnboardingError(ValidationError):
    """An onboarding step that is not allowed now or whose data is incomplete."""


__all__ = ["NoSubsidyRulesError", "OnboardingError", "ServiceDataError", "UnknownCourseError"]
