"""The official check sheet (.xlsx): import its text and answers, export answers into a copy.

Import finds the sheet, the header row and the columns by their Japanese headings (No., ラベル,
要求事項, 達成条件, レベル/Lv, an answer column such as 回答/実施状況/チェック, 備考), reads merged
cells through their top-left cell and uses cached formula values. When detection fails, a
:class:`ColumnMapping` names the sheet, header row and columns explicitly. The imported text
becomes the catalogue (``verified`` items; the item number is the join key, so answers already
given survive), and answers found in the sheet are applied with history.

Export writes the assessment's answers into a *copy* of the same workbook: only the answer (and,
when present, comment) cells of item rows change; layout, styles, other sheets and formulas are
left as they are. Every problem (no header, duplicate numbers, a wrong answer value, a formula
without a value, a merged answer cell spanning several items ...) is reported with its cell.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from mamori.errors import CatalogueError, SourceLocation, ValidationError
from mamori.guideline.assessment import Assessment, Status, normalise_text, set_answer
from mamori.guideline.loader import CatalogueValidationError, dump_catalogue, parse_catalogue
from mamori.guideline.models import Framework, Item, LabelSource, Provenance, ProvenanceStatus

FIELDS = ("no", "label", "requirement", "condition", "level", "answer", "comment")

# heading words per field, compared after NFKC, lower-casing and removing spaces
HEADINGS: dict[str, tuple[str, ...]] = {
    "no": ("no", "no.", "番号", "項番", "項目番号", "項目no", "項目no.", "通し番号", "#"),
    "label": ("ラベル", "label"),
    "requirement": ("要求事項", "requirement"),
    "condition": ("達成条件", "達成基準", "condition"),
    "level": ("レベル", "lv", "lv.", "level"),
    "answer": (
        "回答",
        "実施状況",
        "チェック",
        "対応状況",
        "達成状況",
        "対策状況",
        "自己評価",
        "評価結果",
        "answer",
    ),
    "comment": ("備考", "コメント", "補足", "comment", "remarks"),
}
_EXACT_ONLY = {"no", "level"}  # short words: match whole headings only
_NOT_ANSWER = ("項目", "シート", "sheet")  # "チェック項目" names the item text, not the answer
HEADER_SCAN_ROWS = 40
_NUM_RE = re.compile(r"^(?:no\.?|№)?\s*(\d+)\s*\.?$", re.IGNORECASE)
_LEVEL_RE = re.compile(r"^(?:lv|level|レベル)?\.?\s*(\d+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Explicit layout when heading detection fails (any part may be left to detection)."""

    sheet: str | None = None
    header_row: int | None = None
    columns: Mapping[str, int] = field(default_factory=dict)  # field -> 1-based column index
    answer_values: Mapping[str, Status] = field(default_factory=dict)  # sheet word -> status

    @classmethod
    def parse(cls, specs: Sequence[str]) -> ColumnMapping:
        """Read ``field=COLUMN`` pairs (``no=A``, ``answer=F``), ``sheet=NAME``, ``header=5``
        and ``value:○=対策完了`` answer aliases.

        Raises:
            ValidationError: an unknown field, a bad column or row, or a bad answer alias.
        """
        sheet: str | None = None
        header: int | None = None
        columns: dict[str, int] = {}
        values: dict[str, Status] = {}
        for spec in specs:
            for part in (p.strip() for p in spec.split(",")):
                if not part:
                    continue
                key, sep, value = part.partition("=")
                key, value = key.strip(), value.strip()
                if not sep or not value:
                    raise ValidationError(f"column mapping {part!r}: expected key=value")
                if key == "sheet":
                    sheet = value
                elif key in ("header", "header_row"):
                    if not value.isdigit() or int(value) < 1:
                        raise ValidationError(f"header row must be a positive number: {value!r}")
                    header = int(value)
                elif key.startswith("value:"):
                    values[key[6:]] = Status.parse(value)
                elif key in FIELDS:
                    columns[key] = _column_index(value)
                else:
                    raise ValidationError(
                        f"unknown mapping key {key!r} (fields: {', '.join(FIELDS)}, "
                        "sheet, header, value:<word>)"
                    )
        return cls(sheet=sheet, header_row=header, columns=columns, answer_values=values)


def _column_index(value: str) -> int:
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return int(column_index_from_string(value.upper()))
    except ValueError:
        raise ValidationError(f"{value!r} is not a column (A, B, ... or 1, 2, ...)") from None


@dataclass(frozen=True, slots=True)
class SheetLayout:
    sheet: str
    header_row: int
    columns: Mapping[str, int]

    def describe(self) -> str:
        cols = ", ".join(f"{k}={get_column_letter(v)}" for k, v in self.columns.items())
        return f"sheet {self.sheet!r}, header row {self.header_row}: {cols}"


@dataclass
class SheetImport:
    """What an import found: the new catalogue, the answers and where each item sits."""

    framework: Framework
    layout: SheetLayout
    rows: dict[str, int]
    answers: dict[str, Status]
    comments: dict[str, str]
    problems: list[CatalogueError]
    warnings: list[str]
    path: str


@dataclass(frozen=True, slots=True)
class ApplyResult:
    changed: int
    unchanged: int
    kept: int  # items the sheet leaves blank: existing answers survive


def _norm_heading(value: Any) -> str:
    return normalise_text(value).lower().replace(" ", "")


def _match_field(heading: str) -> tuple[str, bool] | None:
    """The field a heading names and whether it matched exactly (exact beats contained)."""
    if not heading:
        return None
    for fld, words in HEADINGS.items():
        if heading in words:
            return fld, True
    for fld, words in HEADINGS.items():
        if fld in _EXACT_ONLY:
            continue
        if fld == "answer" and any(w in heading for w in _NOT_ANSWER):
            continue
        if any(w in heading for w in words if len(w) >= 2):
            return fld, False
    return None


class _Grid:
    """Cell access with merged cells resolved to their top-left value."""

    def __init__(self, values: Worksheet, formulas: Worksheet) -> None:
        self.values = values
        self.formulas = formulas
        self._merged: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        for rng in values.merged_cells.ranges:
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    self._merged[(r, c)] = (rng.min_row, rng.min_col, rng.max_row, rng.max_col)

    def merged(self, row: int, col: int) -> tuple[int, int, int, int] | None:
        return self._merged.get((row, col))

    def anchor(self, row: int, col: int) -> tuple[int, int]:
        m = self._merged.get((row, col))
        return (m[0], m[1]) if m else (row, col)

    def value(self, row: int, col: int) -> Any:
        r, c = self.anchor(row, col)
        return self.values.cell(row=r, column=c).value

    def uncomputed_formula(self, row: int, col: int) -> bool:
        r, c = self.anchor(row, col)
        f = self.formulas.cell(row=r, column=c)
        return f.data_type == "f" and self.values.cell(row=r, column=c).value is None


def _header_candidates(grid: _Grid) -> list[tuple[int, dict[str, int]]]:
    out = []
    last = min(grid.values.max_row, HEADER_SCAN_ROWS)
    for row in range(1, last + 1):
        exact: dict[str, int] = {}
        loose: dict[str, int] = {}
        for col in range(1, grid.values.max_column + 1):
            if grid.anchor(row, col)[1] != col:
                continue  # the same merged heading seen again to the right
            match = _match_field(_norm_heading(grid.value(row, col)))
            if match is None:
                continue
            fld, is_exact = match
            target = exact if is_exact else loose
            target.setdefault(fld, col)
        found = {**{k: v for k, v in loose.items() if k not in exact}, **exact}
        taken: set[int] = set()
        for fld in list(found):  # one column serves one field
            if found[fld] in taken:
                del found[fld]
            else:
                taken.add(found[fld])
        out.append((row, found))
    return out


def _is_header(found: Mapping[str, int]) -> bool:
    return "no" in found and len(found) >= 3


def _detect(grid: _Grid, mapping: ColumnMapping) -> tuple[int, dict[str, int]] | None:
    if mapping.header_row is not None:
        row = mapping.header_row
        found = dict(_header_candidates(grid)[row - 1][1]) if row <= HEADER_SCAN_ROWS else {}
        found.update(mapping.columns)
        return row, found
    best: tuple[int, dict[str, int]] | None = None
    for row, found in _header_candidates(grid):
        merged = {**found, **mapping.columns}
        if _is_header(merged) and (best is None or len(merged) > len(best[1])):
            best = (row, merged)
    return best


def _open(path: Path) -> tuple[Workbook, Workbook]:
    try:
        values = load_workbook(path, data_only=True)
        formulas = load_workbook(path, data_only=False)
    except FileNotFoundError:
        raise CatalogueError("check sheet not found", location=SourceLocation(str(path))) from None
    except Exception as exc:  # openpyxl raises many types for a damaged or non-xlsx file
        raise CatalogueError(
            f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}",
            location=SourceLocation(str(path)),
        ) from exc
    return values, formulas


def find_layout(path: str | Path, mapping: ColumnMapping | None = None) -> SheetLayout:
    """Locate the sheet, header row and columns of a check sheet.

    Raises:
        CatalogueError: no sheet with a recognisable header (the message says what was seen
            and how to give an explicit mapping).
    """
    values, formulas = _open(Path(path))
    return _find_layout(values, formulas, mapping or ColumnMapping(), str(path))


def _find_layout(
    values: Workbook, formulas: Workbook, mapping: ColumnMapping, path: str
) -> SheetLayout:
    names = [mapping.sheet] if mapping.sheet else values.sheetnames
    if mapping.sheet and mapping.sheet not in values.sheetnames:
        raise CatalogueError(
            f"no sheet named {mapping.sheet!r} (sheets: {', '.join(values.sheetnames)})",
            location=SourceLocation(path),
        )
    seen: list[str] = []
    best: tuple[SheetLayout, tuple[int, int]] | None = None
    for name in names:
        grid = _Grid(values[name], formulas[name])
        found = _detect(grid, mapping)
        if found is None:
            seen.append(name)
            continue
        row, cols = found
        if "no" not in cols or "answer" not in cols and "requirement" not in cols:
            seen.append(name)
            continue
        layout = SheetLayout(sheet=name, header_row=row, columns=dict(sorted(cols.items())))
        # the sheet with more recognised columns wins; on a tie (an example sheet such as
        # 記入例 with the same header) the one with more numbered item rows
        numbered = sum(
            1
            for r in range(row + 1, grid.values.max_row + 1)
            if _parse_number(grid.value(r, cols["no"])) is not None
        )
        rank = (len(cols), numbered)
        if best is None or rank > best[1]:
            best = (layout, rank)
    if best is None:
        raise CatalogueError(
            "no recognisable check-sheet header (a row with No. and at least two of ラベル, "
            "要求事項, 達成条件, レベル, 回答/実施状況/チェック) in sheets "
            f"{', '.join(seen)}; give the layout explicitly, e.g. "
            "--map sheet=シート名,header=5,no=A,requirement=C,answer=F",
            location=SourceLocation(path),
        )
    return best[0]


def _parse_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    m = _NUM_RE.match(normalise_text(value))
    return int(m.group(1)) if m else None


def _cell(layout: SheetLayout, row: int, fld: str) -> str:
    return f"{layout.sheet}!{get_column_letter(layout.columns[fld])}{row}"


def _label_lookup(framework: Framework) -> dict[str, int]:
    out: dict[str, int] = {}
    for lb in framework.labels:
        out[_norm_heading(lb.name_ja)] = lb.no
        if lb.name_en:
            out[_norm_heading(lb.name_en)] = lb.no
    return out


def _parse_label(value: Any, lookup: Mapping[str, int]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value in lookup.values() else None
    text = _norm_heading(value)
    if text in lookup:
        return lookup[text]
    m = re.match(r"^(?:ラベル)?(\d+)[\s.:：、)]*(.*)$", text)
    if m:
        no, rest = int(m.group(1)), m.group(2)
        if (not rest or lookup.get(rest) == no) and no in lookup.values():
            return no
    # a heading with decoration ("方針（ポリシー）"): the longest label name it contains
    contained = [(len(name), no) for name, no in lookup.items() if len(name) >= 2 and name in text]
    return max(contained)[1] if contained else None


def read_checksheet(
    path: str | Path,
    *,
    base: Framework,
    mapping: ColumnMapping | None = None,
    strict: bool = True,
) -> SheetImport:
    """Read an official check sheet into a catalogue (verified items) and answers.

    Raises:
        CatalogueError: the workbook cannot be read or has no recognisable header.
        CatalogueValidationError: with ``strict`` (default), when any row has a problem; every
            problem is listed with its cell. Without ``strict`` the problems are returned in
            :attr:`SheetImport.problems` and the affected rows are skipped.
    """
    p = Path(path)
    mapping = mapping or ColumnMapping()
    values, formulas = _open(p)
    layout = _find_layout(values, formulas, mapping, str(p))
    grid = _Grid(values[layout.sheet], formulas[layout.sheet])
    problems: list[CatalogueError] = []
    warnings: list[str] = []

    def problem(row: int, fld: str, message: str) -> None:
        problems.append(
            CatalogueError(message, location=SourceLocation(f"{p}:{_cell(layout, row, fld)}"))
        )

    lookup = _label_lookup(base)
    base_items = base.items_by_id()
    rows: dict[str, int] = {}
    answers: dict[str, Status] = {}
    comments: dict[str, str] = {}
    new_items: dict[str, Item] = {}
    bad_rows: set[str] = set()
    cols = layout.columns
    for row in range(layout.header_row + 1, grid.values.max_row + 1):
        if grid.uncomputed_formula(row, cols["no"]):
            problem(row, "no", "formula without a computed value; open and save the file in Excel")
            continue
        raw_no = grid.value(row, cols["no"])
        number = _parse_number(raw_no)
        if number is None:
            if raw_no not in (None, "") and any(
                grid.value(row, c) not in (None, "") for f, c in cols.items() if f == "answer"
            ):
                problem(row, "no", f"{raw_no!r} is not an item number")
            continue
        item_id = str(number)
        if item_id in rows:
            problem(row, "no", f"duplicate item number {number} (also in row {rows[item_id]})")
            bad_rows.add(item_id)
            continue
        rows[item_id] = row
        if item_id not in base_items:
            problem(row, "no", f"item {number} is not in {base.key}")
            bad_rows.add(item_id)
            continue
        old = base_items[item_id]
        text: dict[str, str] = {}
        for fld in ("requirement", "condition", "comment"):
            if fld in cols:
                if grid.uncomputed_formula(row, cols[fld]):
                    problem(row, fld, "formula without a computed value")
                    continue
                text[fld] = (
                    normalise_text(grid.value(row, cols[fld]))
                    if fld == "comment"
                    else _clean(grid.value(row, cols[fld]))
                )
        label = old.label
        label_source = old.provenance.label_source
        if "label" in cols:
            raw_label = grid.value(row, cols["label"])
            parsed = _parse_label(raw_label, lookup)
            if parsed is None:
                problem(row, "label", f"unknown label {raw_label!r}")
                bad_rows.add(item_id)
            else:
                label, label_source = parsed, LabelSource.SHEET
        level = old.level
        if "level" in cols:
            raw_level = grid.value(row, cols["level"])
            m = _LEVEL_RE.match(_norm_heading(raw_level))
            lv = int(m.group(1)) if m else None
            if lv is None or lv not in base.level_numbers:
                problem(
                    row, "level", f"level {raw_level!r} is not one of {list(base.level_numbers)}"
                )
                bad_rows.add(item_id)
            else:
                level = lv
        if "answer" in cols:
            if grid.uncomputed_formula(row, cols["answer"]):
                problem(row, "answer", "formula without a computed value")
                bad_rows.add(item_id)
            else:
                raw_answer = grid.value(row, cols["answer"])
                if normalise_text(raw_answer):
                    try:
                        status = Status.parse(raw_answer, extra=mapping.answer_values)
                    except ValidationError as exc:
                        problem(row, "answer", exc.message)
                        bad_rows.add(item_id)
                    else:
                        if status is Status.NOT_APPLICABLE and not text.get("comment"):
                            problem(row, "answer", "対象外 needs a reason in the comment column")
                            bad_rows.add(item_id)
                        else:
                            answers[item_id] = status
        if text.get("comment"):
            comments[item_id] = text["comment"]
        requirement = text.get("requirement", "")
        if not requirement and not old.summary_ja:
            problem(row, "requirement" if "requirement" in cols else "no", "item has no text")
            bad_rows.add(item_id)
        new_items[item_id] = replace(
            old,
            label=label,
            level=level,
            label_candidates=() if label is not None else old.label_candidates,
            level_candidates=() if level is not None else old.level_candidates,
            requirement=requirement,
            condition=text.get("condition", ""),
            provenance=Provenance(
                status=ProvenanceStatus.VERIFIED,
                source=f"公式チェックシート / official check sheet: {p.name} "
                f"({layout.sheet}, row {row})",
                label_source=label_source,
                label_confidence=None
                if label_source is LabelSource.SHEET
                else old.provenance.label_confidence,
                label_basis="" if label_source is LabelSource.SHEET else old.provenance.label_basis,
            ),
            location=SourceLocation(str(p), row),
        )
    if not rows:
        problems.append(
            CatalogueError(
                f"no item rows below the header ({layout.describe()})",
                location=SourceLocation(str(p)),
            )
        )
    for item_id in bad_rows:
        new_items.pop(item_id, None)
        answers.pop(item_id, None)
    missing = [i.id for i in base.items if i.id not in rows]
    if missing and rows:
        warnings.append(
            f"the sheet has no row for {len(missing)} item(s) of {base.key}: "
            f"{', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}"
        )
    framework = base.with_items(new_items.get(i.id, i) for i in base.items)
    if not problems:
        try:  # the imported catalogue must pass the same validation as any catalogue
            parse_catalogue(dump_catalogue(framework), path=f"{p.name} (imported)")
        except CatalogueValidationError as exc:
            problems.extend(exc.problems)
    if problems and strict:
        raise CatalogueValidationError(problems, path=str(p))
    return SheetImport(
        framework=framework,
        layout=layout,
        rows=rows,
        answers=answers,
        comments=comments,
        problems=problems,
        warnings=warnings,
        path=str(p),
    )


def _clean(value: Any) -> str:
    if value is None:
        return ""
    lines = [" ".join(line.split()) for line in str(value).replace("\r", "").split("\n")]
    return "\n".join(line for line in lines if line)


def apply_checksheet(
    assessment: Assessment, imported: SheetImport, *, actor: str | None = None
) -> ApplyResult:
    """Make the imported catalogue the assessment's catalogue and apply the sheet's answers.

    Items the sheet leaves blank keep their existing answers; every change enters the history.

    Raises:
        ValidationError: the sheet is for another framework than the assessment.
    """
    fw = imported.framework
    if fw.id != assessment.framework_id:
        raise ValidationError(
            f"the sheet is for {fw.key}, the assessment for {assessment.framework_key}"
        )
    assessment.catalogue = fw
    assessment.framework_version = fw.version
    changed = unchanged = 0
    source = f"import:{Path(imported.path).name}"
    for item_id, status in imported.answers.items():
        before = assessment.answer(item_id)
        comment = imported.comments.get(item_id)
        reason = comment if status is Status.NOT_APPLICABLE else None
        after = set_answer(
            assessment,
            fw,
            item_id,
            status,
            reason=reason,
            comment=comment if status is not Status.NOT_APPLICABLE else None,
            actor=actor,
            source=source,
        )
        if after is before:
            unchanged += 1
        else:
            changed += 1
    kept = sum(1 for k in assessment.answers if k not in imported.answers)
    return ApplyResult(changed=changed, unchanged=unchanged, kept=kept)


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    written: int
    layout: SheetLayout
    problems: tuple[CatalogueError, ...]
    skipped: tuple[str, ...]  # answered items without a row in the sheet


def export_checksheet(
    assessment: Assessment,
    source: str | Path,
    dest: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write the answers into a copy of ``source`` at ``dest``; ``source`` is never modified.

    Only the answer cells (and comment cells, when the sheet has that column and the answer
    has a comment or reason) of item rows are written.

    Raises:
        ValidationError: ``dest`` is the source, or exists and ``overwrite`` is false.
        CatalogueError: the workbook has no recognisable header.
        CatalogueValidationError: cells that cannot take the answer (a formula, a merged cell
            spanning several items, a value the cell's drop-down list refuses); nothing is written.
    """
    src, dst = Path(source), Path(dest)
    if src.resolve() == dst.resolve():
        raise ValidationError("export must write a copy, not the original workbook")
    if dst.exists() and not overwrite:
        raise ValidationError(f"{dst} exists (use overwrite to replace it)")
    mapping = mapping or ColumnMapping()
    values, formulas = _open(src)
    layout = _find_layout(values, formulas, mapping, str(src))
    if "answer" not in layout.columns:
        raise CatalogueError(
            "the sheet has no answer column; map it explicitly, e.g. --map answer=F",
            location=SourceLocation(str(src)),
        )
    grid = _Grid(values[layout.sheet], formulas[layout.sheet])
    keep_vba = src.suffix.lower() == ".xlsm"
    book = load_workbook(src, keep_vba=keep_vba)
    ws = book[layout.sheet]
    rows: dict[str, int] = {}
    problems: list[CatalogueError] = []
    for row in range(layout.header_row + 1, grid.values.max_row + 1):
        number = _parse_number(grid.value(row, layout.columns["no"]))
        if number is None:
            continue
        if str(number) in rows:
            problems.append(
                CatalogueError(
                    f"duplicate item number {number} (also in row {rows[str(number)]})",
                    location=SourceLocation(f"{src}:{_cell(layout, row, 'no')}"),
                )
            )
            continue
        rows[str(number)] = row
    validations = _list_validations(ws)
    writes: list[tuple[int, int, str]] = []
    skipped: list[str] = []
    for item_id, answer in sorted(assessment.answers.items(), key=lambda kv: _sort(kv[0])):
        if answer.status is None:
            continue
        row_no = rows.get(item_id)
        if row_no is None:
            skipped.append(item_id)
            continue
        targets = [("answer", _sheet_word(answer.status.value, mapping))]
        note = answer.reason or answer.comment
        if "comment" in layout.columns and note:
            targets.append(("comment", note))
        for fld, value in targets:
            col = layout.columns[fld]
            where = SourceLocation(f"{src}:{_cell(layout, row_no, fld)}")
            merged = grid.merged(row_no, col)
            if merged and merged[2] > merged[0]:
                problems.append(
                    CatalogueError(
                        "merged cell spans several rows; cannot hold one answer", location=where
                    )
                )
                continue
            r, c = grid.anchor(row_no, col)
            if formulas[layout.sheet].cell(row=r, column=c).data_type == "f":
                problems.append(
                    CatalogueError("cell holds a formula; not overwritten", location=where)
                )
                continue
            allowed = validations.get((r, c))
            if fld == "answer" and allowed is not None and value not in allowed:
                problems.append(
                    CatalogueError(
                        f"the cell's drop-down list ({' / '.join(allowed)}) does not offer "
                        f"{value!r}; "
                        "map the answers with value:<word>=<status>",
                        location=where,
                    )
                )
                continue
            writes.append((r, c, value))
    if problems:
        raise CatalogueValidationError(problems, path=str(src))
    for r, c, value in writes:
        ws.cell(row=r, column=c).value = value
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=src.suffix, dir=dst.parent)
    os.close(fd)
    try:
        book.save(tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    written = sum(1 for r, c, _ in writes if c == layout.columns["answer"])
    return ExportResult(
        path=dst, written=written, layout=layout, problems=(), skipped=tuple(skipped)
    )


def _sheet_word(status_value: str, mapping: ColumnMapping) -> str:
    """The sheet's own word for a status when the mapping defines one (``value:○=対策完了``)."""
    for word, status in mapping.answer_values.items():
        if status.value == status_value:
            return word
    return status_value


def _list_validations(ws: Worksheet) -> dict[tuple[int, int], list[str]]:
    out: dict[tuple[int, int], list[str]] = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list" or not dv.formula1 or not dv.formula1.startswith('"'):
            continue
        options = [normalise_text(o) for o in dv.formula1.strip('"').split(",")]
        for rng in dv.sqref.ranges:
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    out[(r, c)] = options
    return out


def _sort(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (10**9, item_id)


__all__ = [
    "FIELDS",
    "HEADINGS",
    "ApplyResult",
    "ColumnMapping",
    "ExportResult",
    "SheetImport",
    "SheetLayout",
    "apply_checksheet",
    "export_checksheet",
    "find_layout",
    "read_checksheet",
]
