"""Self-assessments: one answer per item, with history, evidence, proposals and automatic results.

An :class:`Assessment` belongs to one tenant and one framework version. Answers are changed only
through :func:`set_answer` (or the helpers built on it), which validates the answer and appends a
:class:`HistoryEntry`, so the history is complete. Assessments are plain data: the CLI keeps them
in JSON files (:func:`save_assessment` / :func:`load_assessment`); the web layer stores the same
dictionaries (:func:`assessment_to_dict`) in its own tables.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from mamori.errors import NotFoundError, SourceLocation, ValidationError
from mamori.guideline.loader import framework_to_dict, parse_catalogue, resolve_framework
from mamori.guideline.models import Framework

FORMAT_VERSION = 1


class Status(StrEnum):
    """The four answers of the official check sheet."""

    DONE = "対策完了"
    PARTIAL = "一部対策"
    NOT_DONE = "未対策"
    NOT_APPLICABLE = "対象外"

    @property
    def en(self) -> str:
        return _STATUS_EN[self]

    @property
    def rank(self) -> int:
        """Progress order for comparisons (対象外 has no rank: -1)."""
        return {Status.NOT_DONE: 0, Status.PARTIAL: 1, Status.DONE: 2}.get(self, -1)

    @classmethod
    def parse(cls, value: object, *, extra: Mapping[str, Status] | None = None) -> Status:
        """Read a status from its Japanese word, an English code, or an ``extra`` alias.

        Raises:
            ValidationError: for any other value (the message lists the accepted ones).
        """
        if isinstance(value, Status):
            return value
        text = normalise_text(value)
        if extra:
            for alias, status in extra.items():
                if normalise_text(alias) == text:
                    return status
        for status in cls:
            if text in (status.value, status.name.lower(), _STATUS_EN[status].lower()):
                return status
        found = _ALIASES.get(text.lower())
        if found is not None:
            return found
        accepted = " / ".join(s.value for s in cls)
        raise ValidationError(f"unknown answer {value!r} (expected one of {accepted})")


_STATUS_EN = {
    Status.DONE: "done",
    Status.PARTIAL: "partial",
    Status.NOT_DONE: "not done",
    Status.NOT_APPLICABLE: "not applicable",
}
_ALIASES = {
    "not_done": Status.NOT_DONE,
    "notdone": Status.NOT_DONE,
    "open": Status.NOT_DONE,
    "na": Status.NOT_APPLICABLE,
    "n/a": Status.NOT_APPLICABLE,
    "not_applicable": Status.NOT_APPLICABLE,
}


def normalise_text(value: object) -> str:
    """NFKC, trimmed, inner whitespace collapsed — how sheet values are compared."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """A piece of evidence stored elsewhere, identified by its content hash."""

    sha256: str
    size: int
    media_type: str
    filename: str
    added_at: datetime
    added_by: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The self-declared state of one item."""

    item_id: str
    status: Status | None = None
    reason: str = ""  # why 対象外 (required for it)
    comment: str = ""
    owner: str = ""
    due: date | None = None
    effort_days: float | None = None
    evidence: tuple[EvidenceRef, ...] = ()
    answered_by: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of an answer: who, when, from what, to what, and through which channel."""

    item_id: str
    at: datetime
    actor: str | None
    source: str  # "manual", "import:<file>", "proposal:<framework>", "evidence"
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """An automatic result for an item, kept apart from the self-declared answer."""

    item_id: str
    check: str
    passed: bool | None  # None: the check could not decide (no data)
    at: datetime
    summary_ja: str = ""
    summary_en: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Proposal:
    """An answer suggested from another framework's answers; applied only when accepted."""

    id: str
    item_id: str
    status: Status
    basis: str  # human-readable: which items on the other side led here
    source_framework: str
    source_items: tuple[str, ...]
    created_at: datetime
    state: str = "open"  # open | accepted | rejected


@dataclass
class Assessment:
    """One tenant's self-assessment against one framework version."""

    id: str
    tenant: str
    framework_id: str
    framework_version: str
    created_at: datetime
    title: str = ""
    target_level: int | None = None
    answers: dict[str, Answer] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    checks: dict[str, CheckRecord] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)
    catalogue: Framework | None = None  # an imported (official) catalogue, when there is one

    @property
    def framework_key(self) -> str:
        return f"{self.framework_id}@{self.framework_version}"

    def answer(self, item_id: str | int) -> Answer:
        return self.answers.get(str(item_id)) or Answer(item_id=str(item_id))

    def status(self, item_id: str | int) -> Status | None:
        return self.answer(item_id).status


def _now() -> datetime:
    return datetime.now(UTC)


def new_assessment(
    framework: Framework,
    *,
    tenant: str,
    title: str = "",
    target_level: int | None = None,
    assessment_id: str | None = None,
    created_at: datetime | None = None,
) -> Assessment:
    """An empty assessment of ``framework`` for ``tenant``."""
    if not tenant.strip():
        raise ValidationError("an assessment needs a tenant")
    if target_level is not None and target_level not in framework.level_numbers:
        raise ValidationError(
            f"target level {target_level} is not one of {list(framework.level_numbers)}"
        )
    return Assessment(
        id=assessment_id or uuid.uuid4().hex,
        tenant=tenant,
        framework_id=framework.id,
        framework_version=framework.version,
        created_at=created_at or _now(),
        title=title,
        target_level=target_level,
        catalogue=framework if framework.provenance_counts().verified else None,
    )


def framework_of(assessment: Assessment) -> Framework:
    """The catalogue this assessment answers: the imported one, else the built-in."""
    if assessment.catalogue is not None:
        return assessment.catalogue
    return resolve_framework(f"{assessment.framework_id}@{assessment.framework_version}")


def _answer_dict(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"status": answer.status.value if answer.status else None}
    for key in ("reason", "comment", "owner"):
        if getattr(answer, key):
            out[key] = getattr(answer, key)
    if answer.due is not None:
        out["due"] = answer.due.isoformat()
    if answer.effort_days is not None:
        out["effort_days"] = answer.effort_days
    if answer.evidence:
        out["evidence"] = [_evidence_dict(e) for e in answer.evidence]
    if answer.answered_by:
        out["answered_by"] = answer.answered_by
    if answer.answered_at is not None:
        out["answered_at"] = answer.answered_at.isoformat()
    return out


def _evidence_dict(e: EvidenceRef) -> dict[str, Any]:
    return {
        "sha256": e.sha256,
        "size": e.size,
        "media_type": e.media_type,
        "filename": e.filename,
        "added_at": e.added_at.isoformat(),
        "added_by": e.added_by,
    }


_UNSET: Any = object()


def set_answer(
    assessment: Assessment,
    framework: Framework,
    item_id: str | int,
    status: Status | str | None = _UNSET,
    *,
    reason: str | None = None,
    comment: str | None = None,
    owner: str | None = None,
    due: date | str | None = _UNSET,
    effort_days: float | None = _UNSET,
    evidence: Iterable[EvidenceRef] | None = None,
    actor: str | None = None,
    source: str = "manual",
    at: datetime | None = None,
) -> Answer:
    """Change one answer (only the given fields) and record the change in the history.

    Raises:
        NotFoundError: the item is not in the framework.
        ValidationError: an unknown status, 対象外 without a reason, a bad date or effort.
    """
    key = str(item_id)
    if not framework.has_item(key):
        raise NotFoundError(f"item {key} is not in {framework.key}")
    if framework.id != assessment.framework_id:
        raise ValidationError(f"assessment is for {assessment.framework_key}, not {framework.key}")
    old = assessment.answers.get(key)
    current = old or Answer(item_id=key)
    changes: dict[str, Any] = {}
    if status is not _UNSET:
        changes["status"] = None if status is None else Status.parse(status)
    if reason is not None:
        changes["reason"] = reason.strip()
    if comment is not None:
        changes["comment"] = comment
    if owner is not None:
        changes["owner"] = owner.strip()
    if due is not _UNSET:
        changes["due"] = _parse_date(due)
    if effort_days is not _UNSET:
        if effort_days is not None and (effort_days < 0 or effort_days != effort_days):
            raise ValidationError(f"effort estimate must be zero or more days, not {effort_days}")
        changes["effort_days"] = effort_days
    if evidence is not None:
        changes["evidence"] = tuple(evidence)
    new = replace(current, **changes)
    if new.status is Status.NOT_APPLICABLE and not new.reason:
        raise ValidationError(f"item {key}: 対象外 (not applicable) needs a reason")
    if new == current and old is not None:
        return current
    when = at or _now()
    new = replace(new, answered_by=actor, answered_at=when)
    assessment.answers[key] = new
    assessment.history.append(
        HistoryEntry(
            item_id=key,
            at=when,
            actor=actor,
            source=source,
            before=_answer_dict(old) if old is not None else None,
            after=_answer_dict(new),
        )
    )
    return new


def add_evidence(
    assessment: Assessment,
    framework: Framework,
    item_id: str | int,
    ref: EvidenceRef,
    *,
    actor: str | None = None,
) -> Answer:
    """Attach evidence to an item (once per content hash) and record it in the history."""
    current = assessment.answer(item_id)
    if any(e.sha256 == ref.sha256 for e in current.evidence):
        return current
    return set_answer(
        assessment,
        framework,
        item_id,
        evidence=(*current.evidence, ref),
        actor=actor,
        source="evidence",
    )


def _parse_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = normalise_text(value).replace("/", "-")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"due date {value!r} is not a date (YYYY-MM-DD)") from None


def ensure_tenant(assessment: Assessment, tenant: str) -> Assessment:
    """Return the assessment if it belongs to ``tenant``.

    Raises:
        NotFoundError: for another tenant's assessment (never revealing that it exists).
    """
    if assessment.tenant != tenant:
        raise NotFoundError(f"assessment {assessment.id} not found")
    return assessment


# --------------------------------------------------------------------------- serialisation


def assessment_to_dict(a: Assessment) -> dict[str, Any]:
    """A JSON-ready dictionary (the file format of the CLI, and what the web layer stores)."""
    return {
        "format": FORMAT_VERSION,
        "kind": "mamori-guideline-assessment",
        "id": a.id,
        "tenant": a.tenant,
        "framework": {"id": a.framework_id, "version": a.framework_version},
        "title": a.title,
        "target_level": a.target_level,
        "created_at": a.created_at.isoformat(),
        "answers": {k: _answer_dict(v) for k, v in sorted(a.answers.items(), key=_sort_key)},
        "history": [
            {
                "item": h.item_id,
                "at": h.at.isoformat(),
                "actor": h.actor,
                "source": h.source,
                "before": h.before,
                "after": h.after,
            }
            for h in a.history
        ],
        "checks": {
            k: {
                "check": c.check,
                "passed": c.passed,
                "at": c.at.isoformat(),
                "summary_ja": c.summary_ja,
                "summary_en": c.summary_en,
                "evidence": c.evidence,
            }
            for k, c in sorted(a.checks.items(), key=_sort_key)
        },
        "proposals": [
            {
                "id": p.id,
                "item": p.item_id,
                "status": p.status.value,
                "basis": p.basis,
                "source_framework": p.source_framework,
                "source_items": list(p.source_items),
                "created_at": p.created_at.isoformat(),
                "state": p.state,
            }
            for p in a.proposals
        ],
        "catalogue": framework_to_dict(a.catalogue) if a.catalogue is not None else None,
    }


def _sort_key(kv: tuple[str, Any]) -> tuple[int, int, str]:
    key = kv[0]
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _dt(value: Any, where: str) -> datetime:
    try:
        out = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: {value!r} is not an ISO date-time") from None
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def _answer_from(item_id: str, d: Mapping[str, Any]) -> Answer:
    if not isinstance(d, Mapping):
        raise ValidationError(f"answer {item_id}: expected a mapping")
    status = d.get("status")
    if status and Status.parse(status) is Status.NOT_APPLICABLE and not d.get("reason"):
        raise ValidationError(f"answer {item_id}: 対象外 (not applicable) needs a reason")
    return Answer(
        item_id=item_id,
        status=Status.parse(status) if status else None,
        reason=str(d.get("reason") or ""),
        comment=str(d.get("comment") or ""),
        owner=str(d.get("owner") or ""),
        due=_parse_date(d.get("due")),
        effort_days=float(d["effort_days"]) if d.get("effort_days") is not None else None,
        evidence=tuple(
            EvidenceRef(
                sha256=str(e["sha256"]),
                size=int(e["size"]),
                media_type=str(e["media_type"]),
                filename=str(e.get("filename") or ""),
                added_at=_dt(e.get("added_at"), f"answer {item_id} evidence"),
                added_by=e.get("added_by"),
            )
            for e in d.get("evidence") or ()
        ),
        answered_by=d.get("answered_by"),
        answered_at=_dt(d["answered_at"], f"answer {item_id}") if d.get("answered_at") else None,
    )


def assessment_from_dict(data: Mapping[str, Any], *, path: str = "<assessment>") -> Assessment:
    """Inverse of :func:`assessment_to_dict`.

    Raises:
        ValidationError: a malformed document (the message says what and where).
    """
    if (
        isinstance(data, Mapping)
        and "kind" not in data
        and isinstance(data.get("answers"), Mapping)
    ):
        data = _expand_simple(data, path)
    if not isinstance(data, Mapping) or data.get("kind") != "mamori-guideline-assessment":
        raise ValidationError(
            "not a mamori assessment file (kind mamori-guideline-assessment expected, "
            "or a simple file with an 'answers' mapping)",
            location=SourceLocation(path),
        )
    try:
        fw = data["framework"]
        catalogue = None
        if data.get("catalogue"):
            text = json.dumps(data["catalogue"], ensure_ascii=False)
            catalogue = parse_catalogue(text, path=f"{path}#catalogue")
        answers = {str(k): _answer_from(str(k), v) for k, v in (data.get("answers") or {}).items()}
        history = [
            HistoryEntry(
                item_id=str(h["item"]),
                at=_dt(h["at"], "history"),
                actor=h.get("actor"),
                source=str(h.get("source") or "manual"),
                before=h.get("before"),
                after=dict(h.get("after") or {}),
            )
            for h in data.get("history") or ()
        ]
        checks = {
            str(k): CheckRecord(
                item_id=str(k),
                check=str(c["check"]),
                passed=c.get("passed"),
                at=_dt(c["at"], f"check {k}"),
                summary_ja=str(c.get("summary_ja") or ""),
                summary_en=str(c.get("summary_en") or ""),
                evidence=dict(c.get("evidence") or {}),
            )
            for k, c in (data.get("checks") or {}).items()
        }
        proposals = [
            Proposal(
                id=str(p["id"]),
                item_id=str(p["item"]),
                status=Status.parse(p["status"]),
                basis=str(p.get("basis") or ""),
                source_framework=str(p.get("source_framework") or ""),
                source_items=tuple(str(x) for x in p.get("source_items") or ()),
                created_at=_dt(p["created_at"], "proposal"),
                state=str(p.get("state") or "open"),
            )
            for p in data.get("proposals") or ()
        ]
        return Assessment(
            id=str(data["id"]),
            tenant=str(data["tenant"]),
            framework_id=str(fw["id"]),
            framework_version=str(fw["version"]),
            created_at=_dt(data["created_at"], "created_at"),
            title=str(data.get("title") or ""),
            target_level=data.get("target_level"),
            answers=answers,
            history=history,
            checks=checks,
            proposals=proposals,
            catalogue=catalogue,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(
            f"malformed assessment file: {exc!r}", location=SourceLocation(path)
        ) from exc
    except ValidationError as exc:
        raise ValidationError(exc.message, location=SourceLocation(path)) from exc


def _expand_simple(data: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The short hand-written form: ``{framework?, tenant?, answers: {"1": "対策完了", ...}}``."""
    fw = data.get("framework") or "jama-japia"
    if isinstance(fw, str):
        fw_id, _, version = fw.partition("@")
        fw = {"id": fw_id, "version": version or resolve_framework(fw_id).version}
    answers: dict[str, Any] = {}
    for key, value in data["answers"].items():
        answers[str(key)] = dict(value) if isinstance(value, Mapping) else {"status": value}
    return {
        **{k: v for k, v in data.items() if k not in ("framework", "answers")},
        "kind": "mamori-guideline-assessment",
        "id": str(data.get("id") or Path(path).stem or uuid.uuid4().hex),
        "tenant": str(data.get("tenant") or "local"),
        "framework": fw,
        "created_at": str(data.get("created_at") or _now().isoformat()),
        "answers": answers,
    }


_CSV_COLUMNS = {
    "no": ("no", "no.", "item", "番号", "項番"),
    "status": ("status", "answer", "回答", "実施状況", "状況"),
    "reason": ("reason", "理由"),
    "comment": ("comment", "備考", "コメント"),
    "owner": ("owner", "担当", "担当者"),
    "due": ("due", "期限"),
}


def _from_csv(text: str, path: str) -> dict[str, Any]:
    """A CSV with a header row naming at least the item number and the answer."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValidationError("empty CSV", location=SourceLocation(path, 1))
    header = [normalise_text(h).lower() for h in rows[0]]
    cols = {
        key: header.index(next(w for w in words if w in header))
        for key, words in _CSV_COLUMNS.items()
        if any(w in header for w in words)
    }
    if "no" not in cols or "status" not in cols:
        raise ValidationError(
            "CSV needs a header with an item number column (no) and an answer column (status)",
            location=SourceLocation(path, 1),
        )
    answers: dict[str, Any] = {}
    for line, row in enumerate(rows[1:], start=2):
        cells = {k: (row[i].strip() if i < len(row) else "") for k, i in cols.items()}
        if not cells["no"]:
            continue
        if cells["no"] in answers:
            raise ValidationError(
                f"duplicate item {cells['no']}", location=SourceLocation(path, line)
            )
        answers[cells["no"]] = {k: v for k, v in cells.items() if k != "no" and v} or {}
    return {"answers": answers}


def save_assessment(assessment: Assessment, path: str | Path) -> Path:
    """Write atomically (temp file + rename), so a crash never leaves half a file."""
    target = Path(path)
    if target.suffix.lower() in (".yaml", ".yml", ".csv"):
        raise ValidationError(
            f"{target.name}: assessments are written as JSON; give a .json file",
            location=SourceLocation(str(target)),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(assessment_to_dict(assessment), ensure_ascii=False, indent=2)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_assessment(path: str | Path) -> Assessment:
    """Read an assessment file written by :func:`save_assessment`.

    Raises:
        NotFoundError: the file does not exist.
        ValidationError: the file is not a valid assessment.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"assessment file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"cannot read assessment file: {exc}", location=SourceLocation(str(p))
        ) from exc
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ValidationError(
                f"not YAML: {exc}",
                location=SourceLocation(str(p), mark.line + 1 if mark is not None else None),
            ) from exc
    elif suffix == ".csv":
        data = _from_csv(text, str(p))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"not JSON: {exc.msg}", location=SourceLocation(str(p), exc.lineno)
            ) from exc
    return assessment_from_dict(data, path=str(p))


__all__ = [
    "Answer",
    "Assessment",
    "CheckRecord",
    "EvidenceRef",
    "HistoryEntry",
    "Proposal",
    "Status",
    "add_evidence",
    "assessment_from_dict",
    "assessment_to_dict",
    "ensure_tenant",
    "framework_of",
    "load_assessment",
    "new_assessment",
    "normalise_text",
    "save_assessment",
    "set_answer",
]
