"""Reading the service's YAML package data, reporting every problem of a file at once."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from mamori.errors import SourceLocation
from mamori.service.errors import ServiceDataError
from mamori.service.text import Text

_RATIO = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

T = TypeVar("T")
_BUNDLED: dict[str, Any] = {}


def load_yaml(name: str, path: Path | None = None) -> tuple[Any, str]:
    """Load a bundled data file (``name`` in ``mamori/service/data``) or ``path`` instead.

    Returns the parsed document and the location used in error messages.

    Raises:
        ServiceDataError: when the file cannot be read or is not valid YAML.
    """
    if path is not None:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ServiceDataError(f"cannot read {where}: {exc.strerror or exc}") from exc
    else:
        where = f"mamori/service/data/{name}"
        text = (
            resources.files("mamori.service")
            .joinpath("data")
            .joinpath(name)
            .read_text(encoding="utf-8")
        )
    try:
        return yaml.safe_load(text), where
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ServiceDataError(
            f"not valid YAML: {exc}", location=SourceLocation(where, line)
        ) from exc


def load_data(name: str, parse: Callable[[Any, str], T], path: Path | None = None) -> T:
    """Parse the bundled data file ``name`` (read once, then cached) or the file at ``path``
    (read on every call, so an edited file is seen).

    Raises:
        ServiceDataError: when the file cannot be read, is not YAML or does not validate.
    """
    if path is not None:
        document, where = load_yaml(name, path)
        return parse(document, where)
    if name not in _BUNDLED:
        document, where = load_yaml(name)
        _BUNDLED[name] = parse(document, where)
    return cast(T, _BUNDLED[name])


class DataReader:
    """Typed field access on a YAML mapping that collects errors instead of stopping.

    Each accessor returns a usable placeholder on error so that reading continues and
    :meth:`raise_if_errors` can report all problems of the file together.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.errors: list[str] = []

    def error(self, message: str) -> None:
        self.errors.append(message)

    def raise_if_errors(self) -> None:
        """Raise one :class:`ServiceDataError` naming every problem found."""
        if self.errors:
            problems = "; ".join(self.errors)
            raise ServiceDataError(
                f"{len(self.errors)} problem(s): {problems}", location=SourceLocation(self.where)
            )

    def mapping(self, data: Any, what: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            self.error(f"{what} must be a mapping")
            return {}
        return data

    def integer(
        self, data: Mapping[str, Any], key: str, what: str, *, minimum: int | None = 0
    ) -> int:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(f"{what}.{key} must be an integer (got {value!r})")
            return 0
        if minimum is not None and value < minimum:
            self.error(f"{what}.{key} must be at least {minimum} (got {value})")
        return value

    def string(self, data: Mapping[str, Any], key: str, what: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            self.error(f"{what}.{key} must be a non-empty string (got {value!r})")
            return ""
        return value

    def optional_string(self, data: Mapping[str, Any], key: str, what: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        return self.string(data, key, what)

    def boolean(self, data: Mapping[str, Any], key: str, what: str) -> bool:
        value = data.get(key)
        if not isinstance(value, bool):
            self.error(f"{what}.{key} must be true or false (got {value!r})")
            return False
        return value

    def optional_date(self, data: Mapping[str, Any], key: str, what: str) -> date | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        self.error(f"{what}.{key} must be a date YYYY-MM-DD (got {value!r})")
        return None

    def ratio(self, data: Mapping[str, Any], key: str, what: str) -> tuple[int, int] | None:
        """A rate written ``"n/d"`` with 0 < n <= d; ``None`` when the field is null."""
        value = data.get(key)
        if value is None:
            return None
        match = _RATIO.match(value) if isinstance(value, str) else None
        if match is None:
            self.error(f"{what}.{key} must be a ratio like '1/2' (got {value!r})")
            return None
        num, den = int(match.group(1)), int(match.group(2))
        if den == 0 or num == 0 or num > den:
            self.error(f"{what}.{key} must be a ratio between 0 and 1 (got {value!r})")
            return None
        return num, den

    def text(self, data: Mapping[str, Any], prefix: str, what: str) -> Text:
        """A bilingual name from ``<prefix>ja``/``<prefix>en`` (or ``ja``/``en``) keys."""
        return Text(
            ja=self.string(data, f"{prefix}ja", what), en=self.string(data, f"{prefix}en", what)
        )

    def int_list(self, data: Mapping[str, Any], key: str, what: str) -> tuple[int, ...]:
        value = data.get(key)
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            self.error(f"{what}.{key} must be a list of integers (got {value!r})")
            return ()
        return tuple(value)

    def str_list(self, data: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(f"{what}.{key} must be a list of names (got {value!r})")
            return ()
        return tuple(value)


__all__ = ["DataReader", "load_data", "load_yaml"]
