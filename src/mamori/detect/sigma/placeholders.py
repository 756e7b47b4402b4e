"""Values of Sigma placeholders (``%name%`` with the ``expand`` modifier).

SigmaHQ rules such as ``User|expand: '%admins%'`` name an environment-specific list of
values. The loader fills them in through a pySigma ``ValueListPlaceholderTransformation``
(:meth:`~mamori.detect.sigma.pipelines.Variant.pipeline`); a rule whose placeholder has no
value is refused with a reason, never run with a guess.

Values come from two places, both accepted by ``mamori hunt`` and by the streaming detector
(``Settings.detect_placeholders`` and ``Settings.detect_placeholders_file``):

* ``NAME=VALUE`` pairs (:func:`parse_assignment`); a name given several times collects
  all its values, in order;
* a YAML file mapping names to a value or a list of values (:func:`load_placeholder_file`)::

      admins: [Administrator, root]
      domain_controllers:
        - DC01
        - DC02

Names may be written with or without the surrounding ``%``. :func:`merge_placeholders`
combines sources: for a name given in a later source, that source's values replace the
earlier ones (the command line overrides the file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mamori.errors import ConfigError, SourceLocation

Placeholders = dict[str, list[str]]

MAX_FILE_BYTES = 4 * 1024 * 1024
"""A placeholder file larger than this is refused (it is a short list of names)."""

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def placeholder_name(raw: str) -> str:
    """``raw`` without surrounding ``%`` and blanks, checked.

    Raises:
        ConfigError: the name is empty or holds other characters than letters, digits,
            ``_``, ``.`` and ``-`` (Sigma placeholder names).
    """
    name = raw.strip()
    if len(name) >= 2 and name.startswith("%") and name.endswith("%"):
        name = name[1:-1].strip()
    if not name or not _NAME.match(name):
        raise ConfigError(
            f"invalid placeholder name {raw!r}: use letters, digits, '_', '.' or '-' "
            "(e.g. admins or %admins%)"
        )
    return name


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigError(f"{where}: a placeholder value must be text or a number, not {value!r}")


def parse_assignment(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as ``(name, value)``; the value may be empty or hold ``=``.

    Raises:
        ConfigError: no ``=``, or an invalid name.
    """
    name, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(f"placeholder {text!r} is not NAME=VALUE")
    return placeholder_name(name), value


def from_assignments(items: Iterable[str]) -> Placeholders:
    """Placeholders from ``NAME=VALUE`` texts; repeated names collect their values.

    Raises:
        ConfigError: an item is not ``NAME=VALUE`` with a valid name.
    """
    out: Placeholders = {}
    for item in items:
        name, value = parse_assignment(item)
        out.setdefault(name, []).append(value)
    return out


def from_mapping(data: Mapping[Any, Any], where: str = "placeholders") -> Placeholders:
    """Placeholders from a mapping of names to a value or a list of values.

    Raises:
        ConfigError: a name is invalid, or a value is neither a scalar nor a list of scalars.
    """
    out: Placeholders = {}
    for raw_name, raw in data.items():
        if not isinstance(raw_name, str | int):
            raise ConfigError(f"{where}: placeholder name {raw_name!r} is not text")
        name = placeholder_name(str(raw_name))
        label = f"{where}: {name}"
        if isinstance(raw, list):
            values = [_text(item, label) for item in raw]
        elif raw is None:
            raise ConfigError(f"{label}: no value (give a value or a list of values)")
        else:
            values = [_text(raw, label)]
        out[name] = values
    return out


def load_placeholder_file(path: Path) -> Placeholders:
    """Placeholders from a YAML file (see the module docstring).

    Raises:
        ConfigError: the file cannot be read, is too large, is not YAML, is not a mapping,
            or holds an invalid name or value. The error carries the file (and line for YAML).
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"placeholder file too large ({size} bytes, at most {MAX_FILE_BYTES})",
                location=SourceLocation(str(path)),
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the placeholder file: {exc.strerror or exc}",
            location=SourceLocation(str(path)),
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "the placeholder file is not UTF-8 text", location=SourceLocation(str(path))
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            f"the placeholder file is not valid YAML: {exc}",
            location=SourceLocation(str(path), line),
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the placeholder file must map names to values, not {type(data).__name__}",
            location=SourceLocation(str(path)),
        )
    return from_mapping(data, str(path))


def merge_placeholders(*sources: Mapping[str, list[str]]) -> Placeholders:
    """One set of placeholders; a later source's values for a name replace earlier ones."""
    out: Placeholders = {}
    for source in sources:
        for name, values in source.items():
            out[placeholder_name(name)] = list(values)
    return out


__all__ = [
    "MAX_FILE_BYTES",
    "Placeholders",
    "from_assignments",
    "from_mapping",
    "load_placeholder_file",
    "merge_placeholders",
    "parse_assignment",
    "placeholder_name",
]
