"""Guideline gaps for a proposal: the JAMA/JAPIA items a customer has not met yet.

A :class:`GapSet` is what the proposal step works from: every item answered 未対策 (not done)
or 一部対策 (partly done) in the customer's self-assessment, with its label (ラベル), its
level (Lv1-Lv3) and its status. It comes from

* a stored assessment (:func:`gaps_from_assessment`: the guideline area's
  :class:`~mamori.guideline.assessment.Assessment`, whichever store it was loaded from), or
* a filled official check sheet (:func:`gaps_from_checksheet`) for a prospect that has no
  tenant yet: the sheet is imported by the guideline area's own import service
  (:meth:`mamori.guideline.service.GuidelineService.import_sheet`) into an assessment kept in
  memory, so nothing about the prospect is stored but the gaps themselves.

Items answered 対策完了 or 対象外 are met; items left blank are counted as unanswered, not as
gaps. Only the JAMA/JAPIA framework is understood (item numbers 1-153); an assessment of
another framework is refused with a clear message. Nothing here touches storage.
"""

from __future__ import annotations

import builtins
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mamori.errors import MamoriError, NotFoundError, ValidationError
from mamori.guideline.assessment import Assessment, EvidenceRef, Status, framework_of
from mamori.guideline.checksheet import ColumnMapping
from mamori.guideline.loader import load_builtin
from mamori.guideline.models import Framework
from mamori.guideline.service import GuidelineService
from mamori.service.text import Lang, Text

#: The framework whose item numbers the course mapping (``data/recommend.yaml``) uses.
FRAMEWORK_ID = "jama-japia"
UNMET = (Status.NOT_DONE, Status.PARTIAL)
_SUMMARY_CHARS = 120
_STATUS_EN = {Status.NOT_DONE.value: "not done", Status.PARTIAL.value: "partly done"}
SOURCES = ("assessment", "sheet")


@dataclass(frozen=True, slots=True)
class Gap:
    """One unmet item: number, label (number and name), level and status (empty if typed)."""

    item: int
    label: int | None = None
    label_name: Text | None = None
    level: int | None = None
    status: str = ""
    summary: Text | None = None

    def describe(self, lang: Lang = "ja") -> str:
        """``No.103（通信制御・Lv2・未対策）``; in English ``No.103 (..., Lv2, not done)``."""
        parts: list[str] = []
        if self.label_name is not None:
            parts.append(self.label_name.get(lang))
        if self.level is not None:
            parts.append(f"Lv{self.level}")
        if self.status:
            parts.append(_STATUS_EN.get(self.status, self.status) if lang == "en" else self.status)
        if not parts:
            return f"No.{self.item}"
        if lang == "en":
            return f"No.{self.item} ({', '.join(parts)})"
        return f"No.{self.item}（{'・'.join(parts)}）"

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "label": self.label,
            "label_name": self.label_name.to_dict() if self.label_name else None,
            "level": self.level,
            "status": self.status,
            "summary": self.summary.to_dict() if self.summary else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Gap:
        """Raises:
        ValidationError: a stored gap without a whole item number.
        """
        item = data.get("item")
        if isinstance(item, bool) or not isinstance(item, int):
            raise ValidationError(f"a gap needs a whole item number (got {item!r})")
        label = data.get("label")
        level = data.get("level")
        return cls(
            item=item,
            label=label if isinstance(label, int) and not isinstance(label, bool) else None,
            label_name=_text(data.get("label_name")),
            level=level if isinstance(level, int) and not isinstance(level, bool) else None,
            status=str(data.get("status") or ""),
            summary=_text(data.get("summary")),
        )


def _text(value: object) -> Text | None:
    if isinstance(value, Mapping) and "ja" in value:
        return Text(str(value["ja"]), str(value.get("en") or value["ja"]))
    return None


@dataclass(frozen=True, slots=True)
class GapSet:
    """The unmet items of one assessment or check sheet, and where they came from."""

    gaps: tuple[Gap, ...]
    source: str  # "assessment" | "sheet"
    reference: str  # the assessment id or the sheet's file name
    framework: str  # e.g. "jama-japia@2.3"
    answered: int
    item_count: int
    title: str = ""

    @property
    def items(self) -> tuple[int, ...]:
        return tuple(g.item for g in self.gaps)

    @property
    def unanswered(self) -> int:
        return self.item_count - self.answered

    def by_level(self) -> dict[int | None, int]:
        """How many gaps per level (``None``: level not known)."""
        counts: dict[int | None, int] = {}
        for gap in self.gaps:
            counts[gap.level] = counts.get(gap.level, 0) + 1
        return counts

    def describe_source(self) -> Text:
        if self.source == "sheet":
            return Text(
                f"チェックシート「{self.reference}」（{self.answered}/{self.item_count}項目回答）",
                f"check sheet {self.reference!r} ({self.answered}/{self.item_count} answered)",
            )
        name = self.title or self.reference
        return Text(
            f"自己評価「{name}」（{self.answered}/{self.item_count}項目回答）",
            f"self-assessment {name!r} ({self.answered}/{self.item_count} answered)",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "reference": self.reference,
            "title": self.title,
            "framework": self.framework,
            "answered": self.answered,
            "item_count": self.item_count,
            "gaps": [g.to_dict() for g in self.gaps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GapSet:
        """Raises:
        ValidationError: the stored set is malformed.
        """
        source = str(data.get("source") or "")
        if source not in SOURCES:
            raise ValidationError(f"unknown gap source {source!r} (expected assessment or sheet)")
        raw = data.get("gaps")
        if not isinstance(raw, list):
            raise ValidationError("a gap set needs a list of gaps")
        return cls(
            gaps=tuple(Gap.from_dict(g) for g in raw if isinstance(g, Mapping)),
            source=source,
            reference=str(data.get("reference") or ""),
            framework=str(data.get("framework") or ""),
            answered=int(data.get("answered") or 0),
            item_count=int(data.get("item_count") or 0),
            title=str(data.get("title") or ""),
        )


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def gaps_from_assessment(
    assessment: Assessment, *, source: str = "assessment", reference: str | None = None
) -> GapSet:
    """The unmet items (未対策, 一部対策) of a JAMA/JAPIA assessment, in item order.

    Raises:
        ValidationError: the assessment is of another framework (e.g. METI SCS).
    """
    if assessment.framework_id != FRAMEWORK_ID:
        raise ValidationError(
            f"the proposal reads JAMA/JAPIA assessments; {assessment.framework_key} "
            "has other item numbers"
        )
    framework = framework_of(assessment)
    gaps: list[Gap] = []
    answered = 0
    for item in framework.items:
        status = assessment.status(item.id)
        if status is None:
            continue
        answered += 1
        if status not in UNMET or item.number is None:
            continue
        label = framework.label(item.label) if item.label is not None else None
        text_ja = item.text("ja")
        text_en = item.text("en")
        gaps.append(
            Gap(
                item=item.number,
                label=item.label,
                label_name=Text(label.name_ja, label.name_en or label.name_ja) if label else None,
                level=item.level,
                status=status.value,
                summary=Text(_clip(text_ja), _clip(text_en or text_ja)) if text_ja else None,
            )
        )
    gaps.sort(key=lambda g: g.item)
    return GapSet(
        gaps=tuple(gaps),
        source=source,
        reference=reference if reference is not None else assessment.id,
        framework=assessment.framework_key,
        answered=answered,
        item_count=len(framework.items),
        title=assessment.title,
    )


class _MemoryAssessments:
    """An :class:`~mamori.guideline.service.AssessmentRepository` that forgets on exit."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], Assessment] = {}

    def get(self, tenant: str, assessment_id: str) -> Assessment:
        try:
            return self._rows[(tenant, assessment_id)]
        except KeyError:
            raise NotFoundError(f"assessment {assessment_id} not found") from None

    def save(self, assessment: Assessment) -> None:
        self._rows[(assessment.tenant, assessment.id)] = assessment

    def list(self, tenant: str) -> builtins.list[Assessment]:
        return [a for (t, _), a in self._rows.items() if t == tenant]


class _NoEvidence:
    """Evidence is never uploaded while reading a prospect's sheet."""

    def put(self, tenant: str, evidence: Any) -> EvidenceRef:
        del tenant, evidence
        raise ValidationError("a prospect's check sheet carries no evidence files")

    def open(self, tenant: str, sha256: str) -> bytes:
        del tenant, sha256
        raise NotFoundError("evidence not found")


PROSPECT = "prospect"


def gaps_from_checksheet(
    path: str | Path,
    *,
    filename: str | None = None,
    framework: Framework | None = None,
    mapping: ColumnMapping | None = None,
    actor: str | None = None,
) -> GapSet:
    """Import a filled official check sheet (in memory) and return its unmet items.

    The guideline area's import service reads the sheet (headings, merged cells, answer
    words, label and level columns), so every problem it finds is reported as it reports it.

    Raises:
        CatalogueError: the file is not a readable check sheet (the message names the cell).
        ValidationError: the sheet has no answers at all.
    """
    base = framework or load_builtin(FRAMEWORK_ID)
    service = GuidelineService(_MemoryAssessments(), _NoEvidence())
    name = filename or Path(path).name
    assessment = service.create(tenant=PROSPECT, framework=base, title=name)
    service.import_sheet(
        tenant=PROSPECT, assessment_id=assessment.id, path=path, mapping=mapping, actor=actor
    )
    loaded = service.get(tenant=PROSPECT, assessment_id=assessment.id)
    if not any(a.status is not None for a in loaded.answers.values()):
        raise ValidationError(
            f"チェックシート「{name}」に回答がありません (the check sheet {name!r} has no answers)"
        )
    return gaps_from_assessment(loaded, source="sheet", reference=name)


def gaps_from_checksheet_bytes(
    data: bytes,
    *,
    filename: str,
    framework: Framework | None = None,
    mapping: ColumnMapping | None = None,
    actor: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
) -> GapSet:
    """:func:`gaps_from_checksheet` for an uploaded file (written to a private temp file).

    Raises:
        ValidationError: empty, too large, or not an .xlsx/.xlsm file.
        CatalogueError: the workbook is not a readable check sheet.
    """
    if not data:
        raise ValidationError("チェックシートが空です (the uploaded check sheet is empty)")
    if len(data) > max_bytes:
        raise ValidationError(
            f"チェックシートが大きすぎます (the check sheet is over {max_bytes} bytes)"
        )
    suffix = Path(filename).suffix.lower()
    if suffix not in (".xlsx", ".xlsm") or not data.startswith(b"PK"):
        raise ValidationError(
            f"Excelのチェックシート（.xlsx）を選んでください "
            f"(the check sheet must be an .xlsx workbook: {filename!r})"
        )
    fd, tmp = tempfile.mkstemp(suffix=suffix, prefix="mamori-sheet-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return gaps_from_checksheet(
            tmp, filename=Path(filename).name, framework=framework, mapping=mapping, actor=actor
        )
    except MamoriError as exc:
        # name the file the user sent, never the private temporary path
        if exc.location is not None and exc.location.path == tmp:
            exc.location = replace(exc.location, path=Path(filename).name)
        raise
    finally:
        Path(tmp).unlink(missing_ok=True)


__all__ = [
    "FRAMEWORK_ID",
    "UNMET",
    "Gap",
    "GapSet",
    "gaps_from_assessment",
    "gaps_from_checksheet",
    "gaps_from_checksheet_bytes",
]
