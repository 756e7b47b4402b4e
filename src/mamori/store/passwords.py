"""Password hashing with argon2id (argon2-cffi) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mamori.config import Settings
from mamori.errors import ValidationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


def make_hasher(settings: Settings) -> PasswordHasher:
    """argon2-cffi's RFC 9106 low-memory profile, or cheap parameters for tests."""
    if settings.fast_password_hashing:
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


def check_password_policy(password: str) -> None:
    """Raises:
    ValidationError: the password is too short, too long or blank.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise ValidationError("password must not be blank")


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """True when ``password`` matches; a malformed stored hash counts as a mismatch."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY: dict[tuple[int, int, int], str] = {}


def burn_time(hasher: PasswordHasher, password: str) -> None:
    """Spend one verification's worth of time, so unknown users look like wrong passwords."""
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY:
        _DUMMY[key] = hasher.hash("mamori-dummy-password")
    verify_password(hasher, _DUMMY[key], password)


__all__ = [
    "MIN_PASSWORD_LENGTH",
    "burn_time",
    "check_password_policy",
    "make_hasher",
    "verify_password",
]
