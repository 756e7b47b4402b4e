"""Load Sigma rule folders with pySigma into compiled, JSON-able rule sets.

:func:`load_rules` reads every ``.yml``/``.yaml`` file under the given paths, parses them with
pySigma's :class:`SigmaCollection` (``collect_errors=True``), applies Sigma filters, resolves
correlation references, maps each rule's logsource to its variants
(:mod:`mamori.detect.sigma.pipelines`) and converts it with :class:`MamoriBackend`. Every rule
that cannot be used is reported as a :class:`RuleProblem` (file and reason) and skipped; the
load itself never fails on a bad rule.

The result, a :class:`RuleSet`, is plain data (IR, routes, metadata) and is cached as JSON in
the data directory, keyed by the content hash of all rule files and of the logsource map, so
that a second start skips pySigma entirely. The cache is never unpickled.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma import modifiers as sigma_modifiers
from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
)
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from mamori.detect.sigma.backend import IR, MamoriBackend
from mamori.detect.sigma.pipelines import LogsourceMap, Route, default_logsources

log = logging.getLogger(__name__)

# The Sigma specification names ``utf16le`` as an alias of ``wide``; pySigma 2.0 knows only
# ``wide``. Its modifier table is the documented extension point.
sigma_modifiers.modifier_mapping.setdefault("utf16le", sigma_modifiers.SigmaWideModifier)

IR_VERSION = 3
RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule (or file) that was skipped, and why."""

    path: str
    reason: str
    rule_id: str | None = None
    title: str | None = None

    def __str__(self) -> str:
        what = f" ({self.title})" if self.title else ""
        return f"{self.path}{what}: {self.reason}"


@dataclass(slots=True)
class DetectionRule:
    """A Sigma detection rule compiled to one IR tree per logsource variant."""

    id: str
    title: str
    level: str
    path: str
    tags: list[str] = field(default_factory=list)
    description: str = ""
    name: str | None = None
    logsource: list[str | None] = field(default_factory=list)
    variants: list[tuple[Route, IR]] = field(default_factory=list)
    emits: bool = True  # False for rules only referenced by correlations (generate: false)

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__slots__ if k != "variants"}
        data["variants"] = [[route.to_json(), ir] for route, ir in self.variants]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectionRule:
        values = dict(data)
        values["variants"] = [(Route.from_json(r), ir) for r, ir in data["variants"]]
        return cls(**values)


@dataclass(slots=True)
class CorrelationSpec:
    """A Sigma v2 correlation rule, reduced to what the correlator needs."""

    id: str
    title: str
    level: str
    path: str
    type: str  # event_count | value_count | temporal | temporal_ordered
    rules: list[str]  # ids of the referenced detection rules, in order
    timespan: int  # seconds
    op: str  # gt gte lt lte eq neq
    count: float
    group_by: list[str] = field(default_factory=list)
    value_field: str | None = None
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # alias -> rule id -> field
    tags: list[str] = field(default_factory=list)
    description: str = ""
    generate: bool = False
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorrelationSpec:
        return cls(**data)


@dataclass(slots=True)
class RuleSet:
    rules: list[DetectionRule] = field(default_factory=list)
    correlations: list[CorrelationSpec] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    digest: str = ""
    from_cache: bool = False
    cache_dir: Path | None = None  # where it is cached (engines keep predicate bytecode there)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": IR_VERSION,
            "digest": self.digest,
            "files": self.files,
            "rules": [r.to_json() for r in self.rules],
            "correlations": [c.to_json() for c in self.correlations],
            "problems": [asdict(p) for p in self.problems],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleSet:
        if data.get("version") != IR_VERSION:
            raise ValueError("cache written by another mamori version")
        return cls(
            rules=[DetectionRule.from_json(r) for r in data["rules"]],
            correlations=[CorrelationSpec.from_json(c) for c in data["correlations"]],
            problems=[RuleProblem(**p) for p in data["problems"]],
            files=int(data["files"]),
            digest=str(data["digest"]),
            from_cache=True,
        )


def bundled_rules_dir() -> Path:
    """mamori's own rule set (``mamori/detect/rules``)."""
    return Path(__file__).resolve().parent.parent / "rules"


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every rule file under ``paths`` (files given directly are taken as they are)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file()
            ]
            out.extend(sorted(found))
        else:
            out.append(path)
    return out


def _digest(
    files: Sequence[tuple[Path, bytes | None]], logsources: LogsourceMap, extra: str
) -> str:
    h = hashlib.sha256(f"mamori-ir-{IR_VERSION}|{logsources.digest}|{extra}".encode())
    for path, content in files:
        h.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        h.update(hashlib.sha256(content or b"<unreadable>").digest())
    return h.hexdigest()


def _level(rule: SigmaRule | SigmaCorrelationRule) -> str:
    return str(rule.level.name).lower() if rule.level is not None else "medium"


def _tags(rule: SigmaRule | SigmaCorrelationRule) -> list[str]:
    return [f"{t.namespace}.{t.name}" for t in (rule.tags or [])]


def _rule_key(rule: SigmaRule | SigmaCorrelationRule, path: str) -> str:
    if rule.id is not None:
        return str(rule.id)
    base = f"{path}|{rule.title}".encode("utf-8", "surrogateescape")
    return "noid-" + hashlib.sha256(base).hexdigest()[:16]


def _where(rule: SigmaRule | SigmaCorrelationRule | SigmaFilter) -> str:
    return str(rule.source.path) if rule.source is not None else "<unknown>"


def _problem(path: str, reason: str, rule: Any = None) -> RuleProblem:
    rule_id = str(rule.id) if rule is not None and getattr(rule, "id", None) else None
    title = getattr(rule, "title", None) if rule is not None else None
    return RuleProblem(path=path, reason=reason, rule_id=rule_id, title=title)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0] if "\n" in text and len(text) > 300 else text


class RuleLoader:
    """Loads and compiles rule folders; see the module docstring."""

    def __init__(
        self,
        *,
        logsources: LogsourceMap | None = None,
        placeholders: dict[str, list[str]] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.logsources = logsources or default_logsources()
        self.placeholders = dict(placeholders or {})
        self.cache_dir = cache_dir

    # -- public ------------------------------------------------------------------------
    def load(self, paths: Iterable[str | Path]) -> RuleSet:
        files = rule_files(paths)
        contents: list[tuple[Path, bytes | None]] = []
        problems: list[RuleProblem] = []
        for path in files:
            try:
                contents.append((path, path.read_bytes()))
            except OSError as exc:
                contents.append((path, None))
                problems.append(
                    _problem(str(path), f"cannot read rule file: {exc.strerror or exc}")
                )
        digest = _digest(contents, self.logsources, json.dumps(self.placeholders, sort_keys=True))
        cached = self._read_cache(digest)
        if cached is not None:
            cached.cache_dir = self.cache_dir
            return cached
        ruleset = self._compile(contents, problems)
        ruleset.digest = digest
        ruleset.files = len(files)
        ruleset.cache_dir = self.cache_dir
        self._write_cache(ruleset)
        return ruleset

    # -- cache -------------------------------------------------------------------------
    def _cache_path(self, digest: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"sigma-{digest[:40]}.json"

    def _read_cache(self, digest: str) -> RuleSet | None:
        path = self._cache_path(digest)
        if path is None or not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                ruleset = RuleSet.from_json(json.load(fh))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unusable rule cache %s: %s", path, exc)
            return None
        return ruleset if ruleset.digest == digest else None

    def _write_cache(self, ruleset: RuleSet) -> None:
        path = self._cache_path(ruleset.digest)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sigma-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(ruleset.to_json(), fh, ensure_ascii=False, separators=(",", ":"))
            os.replace(tmp, path)
            for old in path.parent.glob("sigma-*.json"):
                if old != path and old.stat().st_mtime < path.stat().st_mtime - 7 * 86400:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot write rule cache %s: %s", path, exc)

    # -- parse and compile ---------------------------------------------------------------
    def _parse_files(
        self, contents: list[tuple[Path, bytes | None]], problems: list[RuleProblem]
    ) -> list[SigmaRule | SigmaCorrelationRule | SigmaFilter]:
        parsed: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = []
        for path, content in contents:
            if content is None:
                continue
            where = str(path)
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                problems.append(_problem(where, f"not UTF-8 text: {exc}"))
                continue
            try:
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError as exc:
                reason = " ".join(str(exc).split())
                problems.append(_problem(where, f"invalid YAML: {reason}"))
                continue
            docs = [d for d in docs if d is not None]
            if not docs:
                problems.append(_problem(where, "empty rule file"))
                continue
            bad = [d for d in docs if not isinstance(d, dict)]
            if bad:
                problems.append(_problem(where, "a YAML document is not a mapping"))
                continue
            try:
                collection = SigmaCollection.from_dicts(
                    docs,
                    collect_errors=True,
                    source=SigmaRuleLocation(path),
                    collect_filters=True,
                    resolve_references=False,
                )
            except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as exc:
                problems.append(_problem(where, _error_text(exc)))
                continue
            rule_errors: dict[int, list[SigmaError]] = {}
            for item in [*collection.rules, *collection.filters]:
                errors: list[SigmaError] = list(getattr(item, "errors", None) or [])
                if errors:
                    rule_errors[id(item)] = errors
            reported = set()
            for item in [*collection.rules, *collection.filters]:
                found = rule_errors.get(id(item))
                if found:
                    for error in found:
                        reported.add(id(error))
                        problems.append(_problem(where, _error_text(error), item))
                    continue
                parsed.append(item)
            for error in collection.errors:
                if id(error) not in reported:
                    problems.append(_problem(where, _error_text(error)))
        return parsed

    def _compile(
        self, contents: list[tuple[Path, bytes | None]], problems: list[RuleProblem]
    ) -> RuleSet:
        parsed = self._parse_files(contents, problems)
        filters = [p for p in parsed if isinstance(p, SigmaFilter)]
        rules = [p for p in parsed if isinstance(p, SigmaRule)]
        correlations = [p for p in parsed if isinstance(p, SigmaCorrelationRule)]
        collection = SigmaCollection(
            init_rules=[*rules, *correlations], collect_filters=True, resolve_references=False
        )
        # Sigma filters: each rewrites the condition of the rules it names (or all of its
        # logsource with rules: any).
        filtered: list[SigmaRule] = []
        for rule in rules:
            current: SigmaRule = rule
            try:
                for flt in filters:
                    result = flt.apply_on_rule(current)
                    assert isinstance(result, SigmaRule)  # noqa: S101 - filters keep rule types
                    current = result
            except (SigmaError, ValueError, TypeError) as exc:
                problems.append(_problem(_where(rule), f"filter failed: {_error_text(exc)}", rule))
                continue
            filtered.append(current)
        out = RuleSet()
        by_ref: dict[str, DetectionRule] = {}
        for rule in filtered:
            compiled = self._compile_rule(rule, problems)
            if compiled is None:
                continue
            out.rules.append(compiled)
            by_ref[compiled.id] = compiled
            if compiled.name:
                by_ref.setdefault(compiled.name, compiled)
        for corr in correlations:
            spec = self._compile_correlation(corr, collection, by_ref, problems)
            if spec is not None:
                out.correlations.append(spec)
        # rules referenced only by correlations with generate: false emit no alert of their own
        referenced: dict[str, bool] = {}
        for spec in out.correlations:
            for rid in spec.rules:
                referenced[rid] = referenced.get(rid, False) or spec.generate
        for compiled in out.rules:
            if compiled.id in referenced:
                compiled.emits = referenced[compiled.id]
        out.problems = problems
        return out

    def _compile_rule(self, rule: SigmaRule, problems: list[RuleProblem]) -> DetectionRule | None:
        where = _where(rule)
        ls = rule.logsource
        key = (ls.product, ls.category, ls.service)
        try:
            variants = self.logsources.variants_for(key)
        except Exception as exc:  # RuleError
            problems.append(_problem(where, str(exc), rule))
            return None
        compiled: list[tuple[Route, IR]] = []
        for index, variant in enumerate(variants):
            target = rule if index == len(variants) - 1 else copy.deepcopy(rule)
            backend = MamoriBackend(variant.pipeline(key, self.placeholders))
            try:
                queries = backend.convert_rule(target)
            except (SigmaError, ValueError, TypeError, KeyError, RecursionError) as exc:
                problems.append(_problem(where, _error_text(exc), rule))
                return None
            if not queries:
                problems.append(_problem(where, "rule has no condition", rule))
                return None
            ir: IR = queries[0] if len(queries) == 1 else ["or", list(queries)]
            compiled.append((variant.route, ir))
        return DetectionRule(
            id=_rule_key(rule, where),
            title=str(rule.title),
            level=_level(rule),
            path=where,
            tags=_tags(rule),
            description=str(rule.description or ""),
            name=rule.name,
            logsource=list(key),
            variants=compiled,
        )

    def _compile_correlation(
        self,
        corr: SigmaCorrelationRule,
        collection: SigmaCollection,
        by_ref: dict[str, DetectionRule],
        problems: list[RuleProblem],
    ) -> CorrelationSpec | None:
        where = _where(corr)
        try:
            corr.resolve_rule_references(collection)
        except (SigmaError, KeyError, ValueError) as exc:
            problems.append(_problem(where, f"correlation: {_error_text(exc)}", corr))
            return None
        condition = corr.condition
        if not isinstance(condition, SigmaCorrelationCondition):
            problems.append(
                _problem(
                    where, "correlation: extended (boolean) conditions are not supported", corr
                )
            )
            return None
        refs: list[str] = []
        for ref in corr.rules or []:
            target = getattr(ref, "rule", None)
            if isinstance(target, SigmaCorrelationRule):
                problems.append(
                    _problem(where, "correlation of correlations is not supported", corr)
                )
                return None
            key = str(target.id) if target is not None and target.id else ref.reference
            compiled = by_ref.get(key) or by_ref.get(ref.reference)
            if compiled is None:
                problems.append(
                    _problem(
                        where,
                        f"correlation refers to rule {ref.reference!r}, which was not loaded",
                        corr,
                    )
                )
                return None
            refs.append(compiled.id)
        aliases: dict[str, dict[str, str]] = {}
        for alias in corr.aliases:
            mapping: dict[str, str] = {}
            for ref, fieldname in alias.mapping.items():
                target = getattr(ref, "rule", None)
                key = str(target.id) if target is not None and target.id else ref.reference
                compiled = by_ref.get(key) or by_ref.get(ref.reference)
                if compiled is not None:
                    mapping[compiled.id] = fieldname
            aliases[alias.alias] = mapping
        fieldref = condition.fieldref
        value_field = fieldref[0] if isinstance(fieldref, list) and fieldref else fieldref
        ctype = str(corr.type.name).lower() if hasattr(corr.type, "name") else str(corr.type)
        if ctype not in ("event_count", "value_count", "temporal", "temporal_ordered"):
            problems.append(_problem(where, f"correlation type {ctype} is not supported", corr))
            return None
        if ctype == "value_count" and not value_field:
            problems.append(_problem(where, "value_count correlation without a field", corr))
            return None
        return CorrelationSpec(
            id=_rule_key(corr, where),
            title=str(corr.title),
            level=_level(corr),
            path=where,
            type=ctype,
            rules=refs,
            timespan=int(corr.timespan.seconds),
            op=str(condition.op.name).lower(),
            count=float(condition.count),
            group_by=list(corr.group_by or []),
            value_field=str(value_field) if value_field else None,
            aliases=aliases,
            tags=_tags(corr),
            description=str(corr.description or ""),
            generate=bool(corr.generate),
            name=corr.name,
        )


def load_rules(
    paths: Iterable[str | Path],
    *,
    cache_dir: Path | None = None,
    placeholders: dict[str, list[str]] | None = None,
) -> RuleSet:
    """Load rule folders/files (see :class:`RuleLoader`)."""
    return RuleLoader(cache_dir=cache_dir, placeholders=placeholders).load(paths)


__all__ = [
    "CorrelationSpec",
    "DetectionRule",
    "RuleLoader",
    "RuleProblem",
    "RuleSet",
    "bundled_rules_dir",
    "load_rules",
    "rule_files",
]
