"""METI supply-chain security evaluation criteria (SCS ★3/★4) as a second framework.

:func:`load_meti_csv` reads METI's criteria table (CSV as published, two header rows) into a
:class:`~mamori.guideline.models.Framework` (labels = 大分類, levels ★3 and ★4 cumulative, one
item per 評価基準No.) and the :class:`CrossReference` its JAMA 2.3 column gives (which JAMA
items each criterion cites, with the level cited). :func:`propose_answers` turns answers on one
side into :class:`~mamori.guideline.assessment.Proposal` objects on the other; nothing changes
until :func:`accept_proposal` is called with the user's consent.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from mamori.errors import CatalogueError, NotFoundError, SourceLocation, ValidationError
from mamori.guideline.assessment import Assessment, Proposal, Status, normalise_text, set_answer
from mamori.guideline.loader import CatalogueValidationError
from mamori.guideline.models import (
    Framework,
    Item,
    Label,
    LabelSource,
    LevelDef,
    Provenance,
    ProvenanceStatus,
)

METI_ID = "meti-scs"
JAMA_ID = "jama-japia"
_SEGMENT = re.compile(r"[(（]\s*l\s*v\s*\.?\s*(\d)\s*[)）]", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Link:
    meti_id: str
    jama_id: str
    cited_level: int | None


@dataclass(frozen=True, slots=True)
class CrossReference:
    """Links between METI criteria and JAMA items (many-to-many)."""

    links: tuple[Link, ...]

    def jama_for(self, meti_id: str) -> list[str]:
        return _unique(link.jama_id for link in self.links if link.meti_id == meti_id)

    def meti_for(self, jama_id: str) -> list[str]:
        return _unique(link.meti_id for link in self.links if link.jama_id == jama_id)

    def level_conflicts(self, jama: Framework) -> list[str]:
        """Citations whose level disagrees with the JAMA catalogue or with each other."""
        out = []
        cited: dict[str, set[int]] = {}
        for link in self.links:
            if link.cited_level is not None:
                cited.setdefault(link.jama_id, set()).add(link.cited_level)
        for jama_id, levels in sorted(cited.items(), key=lambda kv: int(kv[0])):
            if len(levels) > 1:
                out.append(f"No.{jama_id} is cited as Lv{' and Lv'.join(map(str, sorted(levels)))}")
            elif jama.has_item(jama_id):
                known = jama.item(jama_id).level
                if known is not None and known not in levels:
                    out.append(
                        f"No.{jama_id} is cited as Lv{min(levels)}, the catalogue says Lv{known}"
                    )
        return out


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class MetiImport:
    framework: Framework
    crossref: CrossReference
    warnings: tuple[str, ...]


def parse_jama_refs(text: str) -> list[tuple[int, int | None]]:
    """``"No.103,\\nNo.104 (LV2) ,\\nNo.115 (Lv1)"`` → [(103, 2), (104, 2), (115, 1)]."""
    flat = normalise_text(text.replace("\n", " "))
    out: list[tuple[int, int | None]] = []
    pos = 0
    for m in _SEGMENT.finditer(flat):
        for n in re.findall(r"\d+", flat[pos : m.start()]):
            out.append((int(n), int(m.group(1))))
        pos = m.end()
    for n in re.findall(r"\d+", flat[pos:]):
        out.append((int(n), None))
    return out


_COLUMNS = {
    "major_no": "大分類No.",
    "major": "大分類",
    "mid_no": "中分類No.",
    "mid": "中分類",
    "req_no": "要求事項No.",
    "req_name": "要求事項名",
    "req": "要求事項",
    "star": "★3/★4",
    "id": "評価基準No.",
    "criterion": "評価基準",
}


def load_meti_csv(path: str | Path, *, jama: Framework | None = None) -> MetiImport:
    """Read METI's SCS criteria CSV into a framework and the JAMA cross-reference.

    Raises:
        CatalogueError: the file cannot be read or lacks the expected columns.
        CatalogueValidationError: rows with problems (each with its line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(
            f"cannot read METI CSV: {exc}", location=SourceLocation(str(p))
        ) from exc
    return parse_meti_csv(text, path=str(p), jama=jama)


def parse_meti_csv(text: str, *, path: str = "<meti>", jama: Framework | None = None) -> MetiImport:
    """See :func:`load_meti_csv`."""
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if len(rows) < 2:
        raise CatalogueError("METI CSV has no header", location=SourceLocation(path, 1))
    header = [normalise_text(h) for h in rows[0]]
    sub = [normalise_text(h) for h in rows[1]] if len(rows) > 1 else []
    cols: dict[str, int] = {}
    for key, heading in _COLUMNS.items():
        if heading in header:
            cols[key] = header.index(heading)
    jama_col = next((i for i, h in enumerate(sub) if "自工会" in h), None)
    if jama_col is None:
        jama_col = next((i for i, h in enumerate(header) if "自工会" in h), None)
    missing = [h for k, h in _COLUMNS.items() if k not in cols]
    if missing or jama_col is None:
        what = ", ".join(missing + ([] if jama_col is not None else ["自工会/部工会 (JAMA 2.3)"]))
        raise CatalogueError(f"METI CSV lacks columns: {what}", location=SourceLocation(path, 1))
    first_data = 2 if not any(sub[i] for i in cols.values() if i < len(sub)) else 1
    problems: list[CatalogueError] = []
    items: list[Item] = []
    labels: dict[int, Label] = {}
    links: list[Link] = []
    seen: dict[str, int] = {}
    # csv.reader does not report line numbers of rows with embedded newlines; track them.
    line_of = _row_lines(text)
    for index in range(first_data, len(rows)):
        row = rows[index]
        line = line_of[index] if index < len(line_of) else None

        def cell(key: str, row: list[str] = row) -> str:
            i = cols[key]
            return row[i].strip() if i < len(row) else ""

        if not any(c.strip() for c in row):
            continue
        crit_id = normalise_text(cell("id"))
        if not re.fullmatch(r"\d+(?:-\d+){3}", crit_id):
            problems.append(
                CatalogueError(
                    f"評価基準No. {crit_id!r} is not like 1-1-1-1",
                    location=SourceLocation(path, line),
                )
            )
            continue
        if crit_id in seen:
            problems.append(
                CatalogueError(
                    f"duplicate criterion {crit_id} (first at line {seen[crit_id]})",
                    location=SourceLocation(path, line),
                )
            )
            continue
        seen[crit_id] = line or 0
        star = normalise_text(cell("star"))
        level = {"★3": 3, "★4": 4}.get(star)
        if level is None:
            problems.append(
                CatalogueError(
                    f"criterion {crit_id}: level {star!r} is not ★3 or ★4",
                    location=SourceLocation(path, line),
                )
            )
            continue
        major = cell("major_no")
        if not major.isdigit():
            problems.append(
                CatalogueError(
                    f"criterion {crit_id}: 大分類No. {major!r} is not a number",
                    location=SourceLocation(path, line),
                )
            )
            continue
        label_no = int(major)
        labels.setdefault(label_no, Label(no=label_no, name_ja=cell("major"), name_en=""))
        refs: list[str] = []
        raw_refs = row[jama_col] if jama_col < len(row) else ""
        for number, cited in parse_jama_refs(raw_refs):
            if jama is not None and not jama.has_item(number):
                problems.append(
                    CatalogueError(
                        f"criterion {crit_id} cites JAMA No.{number}, which does not exist",
                        location=SourceLocation(path, line),
                    )
                )
                continue
            refs.append(str(number))
            links.append(Link(crit_id, str(number), cited))
        items.append(
            Item(
                id=crit_id,
                label=label_no,
                level=level,
                provenance=Provenance(
                    status=ProvenanceStatus.VERIFIED,
                    source=f"METI SCS criteria CSV: {Path(path).name}",
                    label_source=LabelSource.SHEET,
                ),
                summary_ja=cell("req_name"),
                requirement=cell("criterion"),
                condition=cell("req"),
                refs={JAMA_ID: tuple(_unique(refs))} if refs else {},
                location=SourceLocation(path, line),
            )
        )
    if not items and not problems:
        problems.append(CatalogueError("no criteria rows", location=SourceLocation(path)))
    if problems:
        raise CatalogueValidationError(problems, path=path)
    counts = {lv: sum(1 for i in items if i.level == lv) for lv in (3, 4)}
    framework = Framework(
        id=METI_ID,
        version=_version_from(path),
        name_ja="サプライチェーン強化に向けたセキュリティ対策評価制度（SCS）評価基準",
        name_en="METI supply-chain security evaluation criteria (SCS)",
        levels=(
            LevelDef(
                3,
                counts[3],
                "★3",
                "★3",
                "すべてのサプライチェーン企業が満たすべき基本水準",
                "Baseline",
            ),
            LevelDef(
                4,
                counts[4],
                "★4",
                "★4",
                "標準的に目指すべき水準（★3を含む）",
                "Standard target (includes ★3)",
            ),
        ),
        labels=tuple(labels[k] for k in sorted(labels)),
        items=tuple(items),
        labels_contiguous=False,
        source=path,
    )
    crossref = CrossReference(tuple(links))
    warnings = tuple(crossref.level_conflicts(jama)) if jama is not None else ()
    return MetiImport(framework=framework, crossref=crossref, warnings=warnings)


def _version_from(path: str) -> str:
    m = re.search(r"(\d{4}-\d{2})", Path(path).name)
    return m.group(1) if m else "imported"


def _row_lines(text: str) -> list[int]:
    """The 1-based line on which each CSV record starts."""
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text))
    previous = 0  # reader.line_num counts the lines read so far
    for _ in reader:
        starts.append(previous + 1)
        previous = reader.line_num
    return starts


def _combine(statuses: list[Status | None]) -> Status | None:
    answered = [s for s in statuses if s is not None and s is not Status.NOT_APPLICABLE]
    if not answered:
        return None
    if len(answered) == len(statuses) and all(s is Status.DONE for s in answered):
        return Status.DONE
    if any(s in (Status.DONE, Status.PARTIAL) for s in answered):
        return Status.PARTIAL
    return Status.NOT_DONE


def propose_answers(
    source: Assessment,
    target: Assessment,
    target_framework: Framework,
    crossref: CrossReference,
    *,
    now: datetime | None = None,
) -> list[Proposal]:
    """Proposals for ``target`` from the answers of ``source`` (the other framework).

    A target item gets 対策完了 only when every linked source item is 対策完了; 一部対策 when
    some are done or partly done; 未対策 when all answered ones are not done. Proposals equal to
    the current answer are skipped; earlier open proposals for the same item are replaced.
    Nothing is applied: see :func:`accept_proposal`.

    Raises:
        ValidationError: the two assessments are not a METI/JAMA pair or differ in tenant.
    """
    pair = {source.framework_id, target.framework_id}
    if pair != {METI_ID, JAMA_ID}:
        raise ValidationError("cross-reference proposals need one METI SCS and one JAMA assessment")
    if source.tenant != target.tenant:
        raise ValidationError("cannot propose across tenants")
    when = now or datetime.now(UTC)
    linked = crossref.jama_for if target.framework_id == METI_ID else crossref.meti_for
    new: list[Proposal] = []
    for item in target_framework.items:
        others = linked(item.id)
        if not others:
            continue
        statuses = [source.status(o) for o in others]
        proposed = _combine(statuses)
        if proposed is None or target.status(item.id) is proposed:
            continue
        basis = ", ".join(
            f"{'No.' if o.isdigit() else ''}{o}={s.value if s else '未回答'}"
            for o, s in zip(others, statuses, strict=True)
        )
        current = target.status(item.id)
        if current is not None:
            basis += f"（現在の回答: {current.value}）"
        new.append(
            Proposal(
                id=uuid.uuid4().hex[:12],
                item_id=item.id,
                status=proposed,
                basis=basis,
                source_framework=source.framework_key,
                source_items=tuple(others),
                created_at=when,
            )
        )
    replaced = {p.item_id for p in new}
    target.proposals = [
        p
        for p in target.proposals
        if not (
            p.state == "open"
            and p.item_id in replaced
            and p.source_framework == source.framework_key
        )
    ] + new
    return new


def accept_proposal(
    target: Assessment, framework: Framework, proposal_id: str, *, actor: str | None = None
) -> Proposal:
    """Apply one open proposal as the user's answer (with history).

    Raises:
        NotFoundError: no open proposal with this id.
    """
    for index, proposal in enumerate(target.proposals):
        if proposal.id == proposal_id and proposal.state == "open":
            set_answer(
                target,
                framework,
                proposal.item_id,
                proposal.status,
                actor=actor,
                source=f"proposal:{proposal.source_framework}",
            )
            accepted = replace(proposal, state="accepted")
            target.proposals[index] = accepted
            return accepted
    raise NotFoundError(f"no open proposal {proposal_id}")


def reject_proposal(target: Assessment, proposal_id: str) -> Proposal:
    """Mark an open proposal rejected (the answer stays as it is)."""
    for index, proposal in enumerate(target.proposals):
        if proposal.id == proposal_id and proposal.state == "open":
            rejected = replace(proposal, state="rejected")
            target.proposals[index] = rejected
            return rejected
    raise NotFoundError(f"no open proposal {proposal_id}")


__all__ = [
    "JAMA_ID",
    "METI_ID",
    "CrossReference",
    "Link",
    "MetiImport",
    "accept_proposal",
    "load_meti_csv",
    "parse_jama_refs",
    "parse_meti_csv",
    "propose_answers",
    "reject_proposal",
]
