"""Automatic evidence: checks that evaluate an item from what mamori observes.

To write a check, subclass :class:`Check` in its own module ``guideline/checks/<name>.py``:
set ``NAME`` (snake_case, unique), ``ITEM`` (the item number it evaluates, e.g. ``"143"``) and
``FRAMEWORK`` (default ``"jama-japia"``), ``TITLE_JA``/``TITLE_EN``, and implement
:meth:`Check.evaluate`, which reads an :class:`Observations` object and returns an
:class:`Outcome` (pass, fail, or ``None`` when the observations do not allow a verdict) with
the evidence it looked at. Decorate the class with ``@checks.register`` and add one import line
to ``guideline/checks/__init__.py``. A check never reads storage: the wiring layer (web, cli,
``mamori up``) builds the observations from the store and hands them in.

Third-party checks register through the entry-point group ``mamori.guideline_checks``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from mamori.errors import ValidationError
from mamori.guideline.assessment import Assessment, CheckRecord, Status
from mamori.registry import Registry


@dataclass(frozen=True, slots=True)
class LogSourceSeen:
    """One log source as the platform saw it (from collectors / the event store)."""

    name: str  # parser or collector name, e.g. "windows_security", "fortigate"
    category: str  # endpoint | server | firewall | proxy | mail | auth | dns | other
    last_seen: datetime
    first_seen: datetime | None = None
    events: int = 0
    hosts: int = 0


@dataclass(frozen=True, slots=True)
class Observations:
    """What mamori observed for one tenant at one moment; every field may be unknown."""

    at: datetime
    tenant: str | None = None
    log_sources: tuple[LogSourceSeen, ...] = ()
    retention_days: int | None = None
    detection_rules: int | None = None  # active detection rules (Sigma + IOC sets)
    events_analysed_24h: int | None = None
    notification_channels: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observations:
        """Read observations from JSON-like data (the CLI's ``--observations`` file).

        Raises:
            ValidationError: a malformed document.
        """

        def ts(value: Any, where: str) -> datetime:
            try:
                out = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                raise ValidationError(
                    f"observations: {where} {value!r} is not a date-time"
                ) from None
            return out if out.tzinfo else out.replace(tzinfo=UTC)

        def opt_int(key: str) -> int | None:
            value = data.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"observations: {key} must be a whole number ≥ 0")
            return value

        if not isinstance(data, Mapping):
            raise ValidationError("observations must be a JSON object")
        try:
            return cls._from_mapping(data, ts, opt_int)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"malformed observations: {exc}") from exc

    @classmethod
    def _from_mapping(
        cls,
        data: Mapping[str, Any],
        ts: Any,
        opt_int: Any,
    ) -> Observations:
        sources = []
        for i, s in enumerate(data.get("log_sources") or ()):
            if not isinstance(s, Mapping) or "name" not in s or "last_seen" not in s:
                raise ValidationError(f"observations: log_sources[{i}] needs name and last_seen")
            sources.append(
                LogSourceSeen(
                    name=str(s["name"]),
                    category=str(s.get("category") or "other"),
                    last_seen=ts(s["last_seen"], f"log_sources[{i}].last_seen"),
                    first_seen=ts(s["first_seen"], "first_seen") if s.get("first_seen") else None,
                    events=int(s.get("events") or 0),
                    hosts=int(s.get("hosts") or 0),
                )
            )
        return cls(
            at=ts(data["at"], "at") if data.get("at") else datetime.now(UTC),
            tenant=data.get("tenant"),
            log_sources=tuple(sources),
            retention_days=opt_int("retention_days"),
            detection_rules=opt_int("detection_rules"),
            events_analysed_24h=opt_int("events_analysed_24h"),
            notification_channels=opt_int("notification_channels"),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    passed: bool | None
    summary_ja: str
    summary_en: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Check(ABC):
    """One automatic check of one item."""

    NAME: ClassVar[str]
    ITEM: ClassVar[str]
    FRAMEWORK: ClassVar[str] = "jama-japia"
    TITLE_JA: ClassVar[str] = ""
    TITLE_EN: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def evaluate(self, observations: Observations) -> Outcome:
        """Decide from the observations; ``passed=None`` when they are not enough."""


checks: Registry[type[Check]] = Registry(
    "guideline check", entry_point_group="mamori.guideline_checks"
)


def checks_for_item(item_id: str | int, framework_id: str = "jama-japia") -> list[type[Check]]:
    """The registered checks that evaluate this item."""
    return [
        cls
        for _, cls in checks.items()
        if str(item_id) == cls.ITEM and framework_id == cls.FRAMEWORK
    ]


def run_checks(
    observations: Observations,
    *,
    framework_id: str = "jama-japia",
    names: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[CheckRecord]:
    """Run the checks of a framework (or the named ones) and record pass/fail, evidence, time.

    Several checks on one item combine: any failure fails the item, all passes pass it,
    anything else is undecided.
    """
    selected = (
        [checks.get(n) for n in names]
        if names is not None
        else [cls for _, cls in checks.items() if framework_id == cls.FRAMEWORK]
    )
    by_item: dict[str, list[tuple[type[Check], Outcome]]] = {}
    for cls in selected:
        outcome = cls(**dict((params or {}).get(cls.NAME, {}))).evaluate(observations)
        by_item.setdefault(cls.ITEM, []).append((cls, outcome))
    records = []
    for item_id, results in sorted(by_item.items(), key=lambda kv: _num(kv[0])):
        verdicts = [o.passed for _, o in results]
        passed: bool | None
        if any(v is False for v in verdicts):
            passed = False
        elif all(v is True for v in verdicts):
            passed = True
        else:
            passed = None
        records.append(
            CheckRecord(
                item_id=item_id,
                check="+".join(cls.NAME for cls, _ in results),
                passed=passed,
                at=observations.at,
                summary_ja=" / ".join(o.summary_ja for _, o in results),
                summary_en=" / ".join(o.summary_en for _, o in results),
                evidence={cls.NAME: o.evidence for cls, o in results},
            )
        )
    return records


def record_checks(assessment: Assessment, records: Iterable[CheckRecord]) -> list[str]:
    """Store automatic results apart from the answers; return items now contradicted
    (declared 対策完了 while their check fails)."""
    contradicted = []
    for record in records:
        assessment.checks[record.item_id] = record
        if record.passed is False and assessment.status(record.item_id) is Status.DONE:
            contradicted.append(record.item_id)
    return contradicted


def _num(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (10**9, item_id)


__all__ = [
    "Check",
    "LogSourceSeen",
    "Observations",
    "Outcome",
    "checks",
    "checks_for_item",
    "record_checks",
    "run_checks",
]
