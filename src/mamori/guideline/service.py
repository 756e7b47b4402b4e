"""Service functions for the wiring layers (web UI/API, CLI), tenant-checked throughout.

:class:`GuidelineService` is what a router calls: every method takes the caller's ``tenant``
and refuses (``NotFoundError``) anything that belongs to another tenant, so one tenant can
never read another tenant's assessment or evidence. Storage is behind two small protocols,
:class:`AssessmentRepository` and :class:`EvidenceBlobs`; this module ships file-based ones
(used by the CLI and by tests), and the store area can implement the same protocols with SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from mamori.errors import NotFoundError, ValidationError
from mamori.guideline.assessment import (
    Answer,
    Assessment,
    CheckRecord,
    EvidenceRef,
    Status,
    add_evidence,
    ensure_tenant,
    framework_of,
    load_assessment,
    new_assessment,
    save_assessment,
    set_answer,
)
from mamori.guideline.charts import level_bars_svg, radar_svg
from mamori.guideline.checks import Observations, record_checks, run_checks
from mamori.guideline.checksheet import (
    ApplyResult,
    ColumnMapping,
    ExportResult,
    apply_checksheet,
    export_checksheet,
    read_checksheet,
)
from mamori.guideline.compare import Comparison, compare
from mamori.guideline.evidence import DEFAULT_MAX_BYTES, EvidenceStore, validate_evidence
from mamori.guideline.models import Framework, Item
from mamori.guideline.roadmap import build_roadmap
from mamori.guideline.scoring import catalogue_notice, score

_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class AssessmentRepository(Protocol):
    """Where assessments live; ``get`` must refuse another tenant's assessment."""

    def get(self, tenant: str, assessment_id: str) -> Assessment: ...

    def save(self, assessment: Assessment) -> None: ...

    def list(self, tenant: str) -> list[Assessment]: ...


class EvidenceBlobs(Protocol):
    """Where evidence bytes live, per tenant, addressed by SHA-256."""

    def put(self, tenant: str, evidence: Any) -> EvidenceRef: ...

    def open(self, tenant: str, sha256: str) -> bytes: ...


class FileAssessmentRepository:
    """Assessments as JSON files, one directory per tenant (``root/<tenant>/<id>.json``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, tenant: str, assessment_id: str) -> Path:
        if not _ID_RE.match(tenant) or not _ID_RE.match(assessment_id):
            raise NotFoundError(f"assessment {assessment_id} not found")
        return self.root / tenant / f"{assessment_id}.json"

    def get(self, tenant: str, assessment_id: str) -> Assessment:
        path = self._path(tenant, assessment_id)
        if not path.is_file():
            raise NotFoundError(f"assessment {assessment_id} not found")
        return ensure_tenant(load_assessment(path), tenant)

    def save(self, assessment: Assessment) -> None:
        save_assessment(assessment, self._path(assessment.tenant, assessment.id))

    def list(self, tenant: str) -> list[Assessment]:
        if not _ID_RE.match(tenant):
            return []
        directory = self.root / tenant
        found = [load_assessment(p) for p in sorted(directory.glob("*.json"))]
        return sorted(
            (a for a in found if a.tenant == tenant), key=lambda a: a.created_at, reverse=True
        )


@dataclass(frozen=True, slots=True)
class LabelProgress:
    no: int
    name_ja: str
    name_en: str
    total: int
    answered: int

    @property
    def progress(self) -> float:
        return round(self.answered / self.total, 4) if self.total else 1.0


@dataclass(frozen=True, slots=True)
class QuestionRow:
    """One item of the questionnaire page: the item, the answer and any automatic result."""

    item: Item
    answer: Answer
    check: CheckRecord | None
    contradicted: bool


class GuidelineService:
    """Tenant-checked operations on assessments, evidence, scoring and reports."""

    def __init__(
        self,
        assessments: AssessmentRepository,
        evidence: EvidenceBlobs,
        *,
        max_evidence_bytes: int = DEFAULT_MAX_BYTES,
        allowed_evidence_types: Iterable[str] | None = None,
    ) -> None:
        self.assessments = assessments
        self.evidence = evidence
        self.max_evidence_bytes = max_evidence_bytes
        self.allowed_evidence_types = (
            frozenset(allowed_evidence_types) if allowed_evidence_types is not None else None
        )

    @classmethod
    def on_disk(cls, root: str | Path, **options: Any) -> GuidelineService:
        base = Path(root)
        return cls(
            FileAssessmentRepository(base / "assessments"),
            EvidenceStore(base / "evidence"),
            **options,
        )

    # -- assessments

    def create(
        self,
        *,
        tenant: str,
        framework: Framework,
        title: str = "",
        target_level: int | None = None,
    ) -> Assessment:
        a = new_assessment(framework, tenant=tenant, title=title, target_level=target_level)
        self.assessments.save(a)
        return a

    def get(self, *, tenant: str, assessment_id: str) -> Assessment:
        return self.assessments.get(tenant, assessment_id)

    def list_assessments(self, *, tenant: str) -> list[Assessment]:
        return self.assessments.list(tenant)

    def answer(
        self,
        *,
        tenant: str,
        assessment_id: str,
        item_id: str,
        status: Status | str | None,
        reason: str | None = None,
        comment: str | None = None,
        owner: str | None = None,
        due: date | str | None = None,
        effort_days: float | None = None,
        actor: str | None = None,
    ) -> Answer:
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        extra: dict[str, Any] = {}
        if due is not None:
            extra["due"] = due
        if effort_days is not None:
            extra["effort_days"] = effort_days
        answer = set_answer(
            a,
            framework_of(a),
            item_id,
            status,
            reason=reason,
            comment=comment,
            owner=owner,
            actor=actor,
            **extra,
        )
        self.assessments.save(a)
        return answer

    def set_target_level(self, *, tenant: str, assessment_id: str, level: int) -> Assessment:
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        if level not in framework_of(a).level_numbers:
            raise ValidationError(f"level {level} is not a level of {a.framework_key}")
        a.target_level = level
        self.assessments.save(a)
        return a

    # -- evidence

    def upload_evidence(
        self,
        *,
        tenant: str,
        assessment_id: str,
        item_id: str,
        stream: BinaryIO | bytes,
        filename: str,
        actor: str | None = None,
    ) -> EvidenceRef:
        """Validate (size, type), store and attach one evidence file.

        Raises:
            NotFoundError: another tenant's assessment, or an unknown item.
            ValidationError: too large, forbidden type, extension not matching content.
        """
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        fw = framework_of(a)
        if not fw.has_item(item_id):
            raise NotFoundError(f"item {item_id} is not in {fw.key}")
        checked = validate_evidence(
            stream,
            filename,
            max_bytes=self.max_evidence_bytes,
            allowed=self.allowed_evidence_types,
            actor=actor,
        )
        ref = self.evidence.put(tenant, checked)
        add_evidence(a, fw, item_id, ref, actor=actor)
        self.assessments.save(a)
        return ref

    def open_evidence(
        self, *, tenant: str, assessment_id: str, sha256: str
    ) -> tuple[EvidenceRef, bytes]:
        """The bytes of evidence attached to this tenant's assessment (and only those)."""
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        for answer in a.answers.values():
            for ref in answer.evidence:
                if ref.sha256 == sha256:
                    return ref, self.evidence.open(tenant, sha256)
        raise NotFoundError("evidence not found")

    # -- questionnaire, dashboard

    def label_progress(self, *, tenant: str, assessment_id: str) -> list[LabelProgress]:
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        fw = framework_of(a)
        out = []
        for lb in fw.labels:
            items = fw.items_in_label(lb.no)
            answered = sum(1 for i in items if a.status(i.id) is not None)
            out.append(LabelProgress(lb.no, lb.name_ja, lb.name_en, len(items), answered))
        unlabelled = [i for i in fw.items if i.label is None]
        if unlabelled:
            answered = sum(1 for i in unlabelled if a.status(i.id) is not None)
            out.append(
                LabelProgress(0, "ラベル未確定", "label not known", len(unlabelled), answered)
            )
        return out

    def questionnaire(self, *, tenant: str, assessment_id: str, label: int) -> list[QuestionRow]:
        """The items of one label (``0``: items whose label is not known) with their answers."""
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        fw = framework_of(a)
        items = fw.items_in_label(label) if label else [i for i in fw.items if i.label is None]
        if label and not any(lb.no == label for lb in fw.labels):
            raise NotFoundError(f"label {label} is not in {fw.key}")
        rows = []
        for item in items:
            check = a.checks.get(item.id)
            answer = a.answer(item.id)
            rows.append(
                QuestionRow(
                    item=item,
                    answer=answer,
                    check=check,
                    contradicted=bool(
                        check and check.passed is False and answer.status is Status.DONE
                    ),
                )
            )
        return rows

    def dashboard(self, *, tenant: str, assessment_id: str, lang: str = "ja") -> dict[str, Any]:
        """Score, charts (SVG), catalogue notice and roadmap summary for the dashboard."""
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        fw = framework_of(a)
        s = score(fw, a)
        roadmap = build_roadmap(fw, a)
        return {
            "score": s.to_dict(fw),
            "notice": catalogue_notice(fw, lang),
            "level_chart_svg": level_bars_svg(
                [
                    (
                        f"Lv{lv}",
                        r.rate,
                        (r.partial / r.applicable) if r.applicable else None,
                    )
                    for lv, r in sorted(s.levels.items())
                ]
            ),
            "label_radar_svg": radar_svg(
                [(f"{no} {fw.label(no).name(lang)}", r.rate) for no, r in sorted(s.labels.items())]
            ),
            "roadmap": roadmap.to_dict(lang),
        }

    # -- sheets, checks, compare

    def import_sheet(
        self,
        *,
        tenant: str,
        assessment_id: str,
        path: str | Path,
        mapping: ColumnMapping | None = None,
        actor: str | None = None,
    ) -> ApplyResult:
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        imported = read_checksheet(path, base=framework_of(a), mapping=mapping)
        result = apply_checksheet(a, imported, actor=actor)
        self.assessments.save(a)
        return result

    def export_sheet(
        self,
        *,
        tenant: str,
        assessment_id: str,
        workbook: str | Path,
        dest: str | Path,
        mapping: ColumnMapping | None = None,
    ) -> ExportResult:
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        return export_checksheet(a, workbook, dest, mapping=mapping, overwrite=True)

    def record_observations(
        self,
        *,
        tenant: str,
        assessment_id: str,
        observations: Observations,
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[str]:
        """Run the automatic checks and store their results; returns contradicted items."""
        if observations.tenant is not None and observations.tenant != tenant:
            raise ValidationError("observations of another tenant")
        a = self.get(tenant=tenant, assessment_id=assessment_id)
        records = run_checks(observations, framework_id=a.framework_id, params=params)
        contradicted = record_checks(a, records)
        self.assessments.save(a)
        return contradicted

    def compare(self, *, tenant: str, earlier_id: str, later_id: str) -> Comparison:
        a = self.get(tenant=tenant, assessment_id=earlier_id)
        b = self.get(tenant=tenant, assessment_id=later_id)
        return compare(framework_of(a), a, framework_of(b), b)


__all__ = [
    "AssessmentRepository",
    "EvidenceBlobs",
    "FileAssessmentRepository",
    "GuidelineService",
    "LabelProgress",
    "QuestionRow",
]
