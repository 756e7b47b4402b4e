"""One exception tree for mamori; every error can say where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a problem was found: a file (or stream name) and, when known, a line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


class MamoriError(Exception):
    """Root of every error mamori raises on purpose.

    The message is meant for a person: one line, no traceback needed to understand it.
    """

    def __init__(self, message: str, *, location: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ConfigError(MamoriError):
    """Settings that cannot work (bad URL, unwritable directory, ...)."""


class ParseError(MamoriError):
    """Input a parser cannot read."""


class RuleError(MamoriError):
    """A detection rule that cannot be loaded or compiled."""


class ScanError(MamoriError):
    """A scanner that failed; never to be read as "clean"."""


class CatalogueError(MamoriError):
    """A guideline catalogue or check sheet that does not validate."""


class NotFoundError(MamoriError):
    """An object that does not exist, or that the caller may not see."""


class PermissionDeniedError(MamoriError):
    """The caller is known but not allowed to do this."""


class ValidationError(MamoriError):
    """A value a user gave that the domain refuses."""


class DuplicateError(MamoriError):
    """An object (name, number, key) that must be unique already exists."""


__all__ = [
    "CatalogueError",
    "ConfigError",
    "DuplicateError",
    "MamoriError",
    "NotFoundError",
    "ParseError",
    "PermissionDeniedError",
    "RuleError",
    "ScanError",
    "SourceLocation",
    "ValidationError",
]
