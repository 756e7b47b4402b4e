"""The attachment policy: which findings block, which quarantine, and the name checks.

Loaded from YAML: the shipped ``policies/default.yaml`` merged with a per-tenant file
``<policy dir>/<tenant>.yaml``. The name checks (blocked and macro-enabled extensions, double
extensions, right-to-left override and other deceptive Unicode, declared type vs. magic bytes)
apply to every object and to every member inside archives.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mamori.errors import ConfigError, SourceLocation
from mamori.scan.filetype import TYPES, extension_of, type_for_extension, type_for_mime
from mamori.scan.verdict import Category, Outcome, Reason

ActionName = Literal["block", "quarantine", "error", "allow"]
_ACTION_OUTCOME: dict[str, Outcome] = {
    "block": Outcome.BLOCKED,
    "quarantine": Outcome.QUARANTINED,
    "error": Outcome.ERROR,
    "allow": Outcome.CLEAN,
}

# Characters that change how a name is displayed without being visible themselves.
_BIDI = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u061c": "ALM",
}
_INVISIBLE = {"\u200b": "ZWSP", "\u200c": "ZWNJ", "\u200d": "ZWJ", "\u2060": "WJ", "\ufeff": "BOM"}
# Look-alikes of the dot that NFKC does not fold to "." but a reader takes for one.
_DOT_LOOKALIKES = {"\u2024": "ONE DOT LEADER", "\u00b7": "MIDDLE DOT", "\u2219": "BULLET OPERATOR"}


_GENERIC_MIMES = frozenset(
    {
        "application/octet-stream",
        "binary/octet-stream",
        "application/x-download",
        "application/download",
        "application/force-download",
        "application/unknown",
    }
)


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_depth: int = Field(default=5, ge=0)
    max_members: int = Field(default=10_000, ge=1)
    max_total_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    max_ratio: float = Field(default=100.0, gt=1)
    ratio_min_bytes: int = Field(default=1024 * 1024, ge=0)


class Checks(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    blocked_extensions: bool = True
    double_extension: bool = True
    unicode_tricks: bool = True
    type_mismatch: bool = True
    macro_extensions: bool = True


class PpapPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["reject", "quarantine", "hold"] = "hold"
    hold_hours: float = Field(default=24.0, gt=0)
    max_candidates: int = Field(default=30, ge=1)


def _ext_list(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError("must be a list of extensions")
    return frozenset(str(v).strip().lstrip(".").lower() for v in value if str(v).strip())


class Policy(BaseModel):
    """One tenant's effective policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = 1
    actions: dict[Category, ActionName] = Field(default_factory=dict)
    code_actions: dict[str, ActionName] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    checks: Checks = Field(default_factory=Checks)
    blocked_extensions: frozenset[str] = frozenset()
    extra_blocked_extensions: frozenset[str] = frozenset()
    allowed_extensions: frozenset[str] = frozenset()
    macro_extensions: frozenset[str] = frozenset()
    decoy_extensions: frozenset[str] = frozenset()
    ppap: PpapPolicy = Field(default_factory=PpapPolicy)
    name: str = "default"

    _normalise = field_validator(
        "blocked_extensions",
        "extra_blocked_extensions",
        "allowed_extensions",
        "macro_extensions",
        "decoy_extensions",
        mode="before",
    )(classmethod(lambda cls, v: _ext_list(v)))  # noqa: ARG005

    @property
    def effective_blocked(self) -> frozenset[str]:
        return (self.blocked_extensions | self.extra_blocked_extensions) - self.allowed_extensions

    def outcome_for(self, reason: Reason) -> Outcome:
        """The outcome this policy gives ``reason`` (code override, else category action)."""
        action = self.code_actions.get(reason.code) or self.actions.get(reason.category)
        if action is None:
            return Outcome.QUARANTINED  # an unknown finding is never clean
        return _ACTION_OUTCOME[action]

    def decide(self, reason: Reason) -> Reason:
        """``reason`` with its outcome set by this policy."""
        return replace(reason, outcome=self.outcome_for(reason))

    # -- name and type checks -------------------------------------------------------------

    def check_name(self, name: str, path: str = "") -> list[Reason]:
        """Extension, double-extension and Unicode checks on a file name."""
        if not name:
            return []
        out: list[Reason] = []
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if self.checks.unicode_tricks:
            tricks = _unicode_tricks(base)
            if tricks:
                out.append(_reason("unicode_trick", ", ".join(tricks), path))
        # Judge the name a person would see: invisible characters removed, NFKC-folded.
        visible = "".join(c for c in base if c not in _BIDI and c not in _INVISIBLE)
        folded = unicodedata.normalize("NFKC", visible)
        for lookalike in _DOT_LOOKALIKES:
            folded = folded.replace(lookalike, ".")
        candidates = {extension_of(base), extension_of(folded)} - {""}
        blocked = self.effective_blocked
        if self.checks.blocked_extensions:
            for ext in sorted(candidates & blocked):
                out.append(_reason("blocked_extension", ext, path))
        if self.checks.macro_extensions:
            for ext in sorted(candidates & self.macro_extensions):
                out.append(_reason("macro_extension", ext, path))
        if self.checks.double_extension:
            parts = [p.strip().lower() for p in folded.strip().rstrip(". ").split(".")[1:]]
            risky = len(parts) >= 2 and parts[-1] in blocked
            # "invoice.pdf.exe", or a decoy pushed out of view with runs of spaces
            if risky and (parts[-2] in self.decoy_extensions or "  " in folded):
                out.append(_reason("double_extension", folded.strip(), path))
        return out

    def check_type(
        self, detected: str, *, name: str = "", declared_mime: str = "", path: str = ""
    ) -> list[Reason]:
        """Declared MIME type and extension against the magic-byte type ``detected``."""
        if not self.checks.type_mismatch or not detected:
            return []
        ftype = TYPES[detected]
        out: list[Reason] = []
        ext = extension_of(name) if name else ""
        mime = declared_mime.split(";", 1)[0].strip().lower()
        claims: list[str] = []
        if ftype.executable:
            # code under any other name or type is disguised, known type or not
            if ext and ext not in ftype.extensions and not ext.isdigit():
                claims.append(f".{ext}")
            if mime and mime not in ftype.mimes and mime not in _GENERIC_MIMES:
                claims.append(mime)
        else:
            if ext and ext not in ftype.extensions and type_for_extension(ext):
                claims.append(f".{ext}")
            if mime and mime not in ftype.mimes and type_for_mime(mime):
                claims.append(mime)
        if not claims:
            return out
        detail = f"{' / '.join(claims)} → {detected}"
        code = "disguised_executable" if ftype.executable else "type_mismatch"
        out.append(_reason(code, detail, path))
        return out


def _reason(code: str, detail: str, path: str) -> Reason:
    return Reason(Category.POLICY, code, detail, scanner="policy", path=path)


def _unicode_tricks(name: str) -> list[str]:
    found: list[str] = []
    for ch in name:
        label = _BIDI.get(ch) or _INVISIBLE.get(ch) or _DOT_LOOKALIKES.get(ch)
        if label is None:
            cat = unicodedata.category(ch)
            if cat in ("Cc", "Cf", "Co", "Cs"):
                label = f"U+{ord(ch):04X}"
        if label and label not in found:
            found.append(label)
    return found


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            f"policy is not valid YAML: {exc}", location=SourceLocation(origin, line)
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("policy must be a mapping", location=SourceLocation(origin))
    return data


def default_policy_data() -> dict[str, Any]:
    text = resources.files("mamori.scan").joinpath("policies/default.yaml").read_text("utf-8")
    return _read_yaml(text, "mamori/scan/policies/default.yaml")


def load_policy(path: Path | None = None, *, name: str = "default") -> Policy:
    """The shipped default, merged with the YAML file at ``path`` when given.

    Raises:
        ConfigError: the file is missing, not YAML, or has unknown or invalid keys.
    """
    data = default_policy_data()
    origin = "mamori/scan/policies/default.yaml"
    if path is not None:
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read policy file: {exc.strerror or exc}") from exc
        data = _merge(data, _read_yaml(text, origin))
    data["name"] = name
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid policy: {problems}", location=SourceLocation(origin)) from exc


class PolicySet:
    """Policies per tenant: ``<directory>/<tenant>.yaml`` over the shipped default, cached."""

    def __init__(self, directory: Path | None = None, *, default: Policy | None = None) -> None:
        self.directory = directory
        self._default = default or load_policy()
        self._cache: dict[str, Policy] = {}

    def for_tenant(self, tenant: str | None) -> Policy:
        """The tenant's policy (the default when the tenant has no file).

        Raises:
            ConfigError: the tenant's file is invalid, or the tenant name is not a plain name.
        """
        if not tenant or self.directory is None:
            return self._default
        if tenant in self._cache:
            return self._cache[tenant]
        if "/" in tenant or "\\" in tenant or tenant.startswith("."):
            raise ConfigError(f"invalid tenant name {tenant!r}")
        path = self.directory / f"{tenant}.yaml"
        policy = load_policy(path, name=tenant) if path.is_file() else self._default
        self._cache[tenant] = policy
        return policy


__all__ = ["Checks", "Limits", "Policy", "PolicySet", "PpapPolicy", "load_policy"]
