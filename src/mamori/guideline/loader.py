"""Load and validate framework catalogues (YAML), reporting every problem with file and line.

A catalogue file has three top-level keys::

    framework: {id, version, name_ja, name_en, item_count, label_count, labels_contiguous,
                levels: [{level, count, name_ja, ...}], notes_ja, notes_en}
    labels:    [{no, name_ja, name_en}]
    items:     [{no, label, level, summary_ja, summary_en, requirement, condition,
                 label_candidates, level_candidates, refs, provenance: {status, source,
                 label_source, label_confidence, label_basis}}]

:func:`load_catalogue` checks the structure and the facts (unique numbers, known labels, every
label present, label blocks contiguous in label order, level counts) and raises one
:class:`CatalogueValidationError` that lists *every* problem found, each with its location.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mamori.errors import CatalogueError, SourceLocation
from mamori.guideline.models import (
    CONFIDENCES,
    Framework,
    Item,
    Label,
    LabelSource,
    LevelDef,
    Provenance,
    ProvenanceStatus,
)

BUILTIN_PACKAGE = "mamori.guideline.catalogue"
BUILTIN_FILES = {"jama-japia": "jama-japia-2.3.yaml"}
DEFAULT_FRAMEWORK = "jama-japia"


class CatalogueValidationError(CatalogueError):
    """A catalogue with one or more problems; ``problems`` holds each with its location."""

    def __init__(self, problems: Sequence[CatalogueError], *, path: str) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(
            f"{path}: {n} problem{'s' if n != 1 else ''} in catalogue:\n{lines}",
        )


# --------------------------------------------------------------------------- YAML with lines


class _LinedDict(dict[str, Any]):
    line: int = 0


class _LinedList(list[Any]):
    line: int = 0


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that remembers the line of every mapping and sequence and refuses duplicates."""

    duplicate_keys: list[tuple[int, str]]


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LinedDict:
    out = _LinedDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
            key = key_node.value  # YAML 1.1 reads a bare ``no:`` key as False; keep the text
        if key in out:
            loader.duplicate_keys.append((key_node.start_mark.line + 1, str(key)))
        out[key] = loader.construct_object(value_node, deep=True)
    return out


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _LinedList:
    out = _LinedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _parse_yaml(text: str, path: str) -> tuple[Any, list[tuple[int, str]]]:
    loader = _LineLoader(text)
    loader.duplicate_keys = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise CatalogueValidationError(
            [CatalogueError(f"not valid YAML: {exc.problem}", location=SourceLocation(path, line))],
            path=path,
        ) from exc
    except yaml.YAMLError as exc:
        raise CatalogueValidationError(
            [CatalogueError(f"not valid YAML: {exc}", location=SourceLocation(path))], path=path
        ) from exc
    finally:
        loader.dispose()
    return data, loader.duplicate_keys


# --------------------------------------------------------------------------- validation


@dataclass
class _Collector:
    path: str
    problems: list[CatalogueError]

    def add(self, line: int | None, message: str) -> None:
        self.problems.append(CatalogueError(message, location=SourceLocation(self.path, line)))


def _line(obj: Any, default: int | None = None) -> int | None:
    return getattr(obj, "line", default)


def _str(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _int_or_none(
    value: Any, what: str, col: _Collector, line: int | None, *, allow_none: bool = True
) -> int | None:
    if value is None:
        if not allow_none:
            col.add(line, f"{what} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        col.add(line, f"{what} must be an integer, not {value!r}")
        return None
    return value


def _int_list(value: Any, what: str, col: _Collector, line: int | None) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        col.add(line, f"{what} must be a list of integers, not {value!r}")
        return ()
    return tuple(sorted(set(value)))


def _check_keys(mapping: Mapping[str, Any], allowed: set[str], where: str, col: _Collector) -> None:
    for key in mapping:
        if key not in allowed:
            col.add(_line(mapping), f"unknown key {key!r} in {where}")


_TOP_KEYS = {"framework", "labels", "items"}
_FW_KEYS = {
    "id",
    "version",
    "name_ja",
    "name_en",
    "item_count",
    "label_count",
    "labels_contiguous",
    "levels",
    "source",
    "notes_ja",
    "notes_en",
}
_LEVEL_KEYS = {"level", "count", "name_ja", "name_en", "description_ja", "description_en"}
_LABEL_KEYS = {"no", "name_ja", "name_en"}
_ITEM_KEYS = {
    "no",
    "label",
    "level",
    "summary_ja",
    "summary_en",
    "requirement",
    "condition",
    "label_candidates",
    "level_candidates",
    "refs",
    "provenance",
}
_PROV_KEYS = {"status", "source", "label_source", "label_confidence", "label_basis"}


def parse_catalogue(text: str, *, path: str = "<catalogue>") -> Framework:
    """Parse and validate catalogue YAML text.

    Raises:
        CatalogueValidationError: listing every problem with ``path:line``.
    """
    data, duplicates = _parse_yaml(text, path)
    col = _Collector(path, [])
    for line, key in duplicates:
        col.add(line, f"duplicate key {key!r}")
    if not isinstance(data, dict):
        col.add(1, "a catalogue must be a mapping with keys framework, labels, items")
        raise CatalogueValidationError(col.problems, path=path)
    _check_keys(data, _TOP_KEYS, "the catalogue", col)
    for key in sorted(_TOP_KEYS):
        if key not in data:
            col.add(_line(data), f"missing top-level key {key!r}")

    fw_raw = data.get("framework")
    if not isinstance(fw_raw, dict):
        if "framework" in data:
            col.add(_line(data), "'framework' must be a mapping")
        fw_raw = _LinedDict()
    _check_keys(fw_raw, _FW_KEYS, "framework", col)
    fw_line = _line(fw_raw)
    fw_id, version = _str(fw_raw.get("id")), _str(fw_raw.get("version"))
    if not fw_id:
        col.add(fw_line, "framework.id is required")
    if not version:
        col.add(fw_line, "framework.version is required")
    item_count = _int_or_none(fw_raw.get("item_count"), "framework.item_count", col, fw_line)
    label_count = _int_or_none(fw_raw.get("label_count"), "framework.label_count", col, fw_line)
    contiguous = bool(fw_raw.get("labels_contiguous", False))

    levels = _parse_levels(fw_raw.get("levels"), col, fw_line)
    labels = _parse_labels(data.get("labels"), col, _line(data))
    label_nos = {lb.no for lb in labels}
    if label_count is not None:
        for missing in sorted(set(range(1, label_count + 1)) - label_nos):
            col.add(_line(data.get("labels"), fw_line), f"missing label {missing}")
        for extra in sorted(label_nos - set(range(1, label_count + 1))):
            col.add(
                _line(data.get("labels"), fw_line), f"label {extra} is outside 1..{label_count}"
            )

    level_nos = {lv.level for lv in levels}
    items = _parse_items(data.get("items"), col, _line(data), label_nos, level_nos)
    framework_source = _str(fw_raw.get("source")) or path

    if item_count is not None:
        _check_item_slots(items, item_count, col, _line(data.get("items"), fw_line))
    if label_nos:
        _check_labels_used(items, labels, col, _line(data.get("labels"), fw_line))
    if contiguous:
        for cline, message in check_contiguity(items):
            col.add(cline, message)
    _check_level_counts(items, levels, col, fw_line)

    if col.problems:
        raise CatalogueValidationError(col.problems, path=path)
    return Framework(
        id=fw_id,
        version=version,
        name_ja=_str(fw_raw.get("name_ja")) or fw_id,
        name_en=_str(fw_raw.get("name_en")) or fw_id,
        levels=tuple(levels),
        labels=tuple(labels),
        items=tuple(items),
        labels_contiguous=contiguous,
        item_count=item_count,
        source=framework_source,
        notes_ja=_str(fw_raw.get("notes_ja")),
        notes_en=_str(fw_raw.get("notes_en")),
    )


def _parse_levels(raw: Any, col: _Collector, line: int | None) -> list[LevelDef]:
    if not isinstance(raw, list) or not raw:
        col.add(line, "framework.levels must be a non-empty list")
        return []
    out: list[LevelDef] = []
    for entry in raw:
        if not isinstance(entry, dict):
            col.add(_line(raw, line), f"a level must be a mapping, not {entry!r}")
            continue
        _check_keys(entry, _LEVEL_KEYS, "a level", col)
        n = _int_or_none(entry.get("level"), "level", col, _line(entry), allow_none=False)
        count = _int_or_none(entry.get("count"), "level count", col, _line(entry))
        if n is None:
            continue
        if any(lv.level == n for lv in out):
            col.add(_line(entry), f"duplicate level {n}")
            continue
        out.append(
            LevelDef(
                level=n,
                count=count,
                name_ja=_str(entry.get("name_ja")) or f"Lv{n}",
                name_en=_str(entry.get("name_en")) or f"Level {n}",
                description_ja=_str(entry.get("description_ja")),
                description_en=_str(entry.get("description_en")),
            )
        )
    return sorted(out, key=lambda lv: lv.level)


def _parse_labels(raw: Any, col: _Collector, line: int | None) -> list[Label]:
    if not isinstance(raw, list):
        if raw is not None:
            col.add(line, "'labels' must be a list")
        return []
    out: list[Label] = []
    for entry in raw:
        if not isinstance(entry, dict):
            col.add(_line(raw, line), f"a label must be a mapping, not {entry!r}")
            continue
        _check_keys(entry, _LABEL_KEYS, "a label", col)
        no = _int_or_none(entry.get("no"), "label no", col, _line(entry), allow_none=False)
        name = _str(entry.get("name_ja"))
        if not name:
            col.add(_line(entry), f"label {no} has no name_ja")
        if no is None:
            continue
        if any(lb.no == no for lb in out):
            col.add(_line(entry), f"duplicate label number {no}")
            continue
        out.append(Label(no=no, name_ja=name, name_en=_str(entry.get("name_en"))))
    return sorted(out, key=lambda lb: lb.no)


def _parse_items(
    raw: Any, col: _Collector, line: int | None, label_nos: set[int], level_nos: set[int]
) -> list[Item]:
    if not isinstance(raw, list):
        if raw is not None:
            col.add(line, "'items' must be a list")
        return []
    out: list[Item] = []
    seen: dict[str, int | None] = {}
    for entry in raw:
        if not isinstance(entry, dict):
            col.add(_line(raw, line), f"an item must be a mapping, not {entry!r}")
            continue
        item = _parse_item(entry, col, label_nos, level_nos)
        if item is None:
            continue
        if item.id in seen:
            first = seen[item.id]
            col.add(_line(entry), f"duplicate item number {item.id} (first at line {first})")
            continue
        seen[item.id] = _line(entry)
        out.append(item)
    return out


def _parse_item(
    entry: Mapping[str, Any], col: _Collector, label_nos: set[int], level_nos: set[int]
) -> Item | None:
    line = _line(entry)
    _check_keys(entry, _ITEM_KEYS, "an item", col)
    raw_no = entry.get("no")
    if raw_no is None or isinstance(raw_no, bool) or _str(raw_no) == "":
        col.add(line, "item without 'no'")
        return None
    item_id = _str(raw_no)
    where = f"item {item_id}"
    label = _int_or_none(entry.get("label"), f"{where}: label", col, line)
    if label is not None and label_nos and label not in label_nos:
        col.add(line, f"{where}: label {label} is not defined in 'labels'")
    level = _int_or_none(entry.get("level"), f"{where}: level", col, line)
    if level is not None and level not in level_nos:
        col.add(line, f"{where}: level {level} is not one of {sorted(level_nos)}")
    label_candidates = _int_list(
        entry.get("label_candidates"), f"{where}: label_candidates", col, line
    )
    level_candidates = _int_list(
        entry.get("level_candidates"), f"{where}: level_candidates", col, line
    )
    for c in label_candidates:
        if label_nos and c not in label_nos:
            col.add(line, f"{where}: label candidate {c} is not defined in 'labels'")
    for c in level_candidates:
        if c not in level_nos:
            col.add(line, f"{where}: level candidate {c} is not a level")

    prov_raw = entry.get("provenance")
    if not isinstance(prov_raw, dict):
        col.add(line, f"{where}: provenance is required (status verified, derived or unknown)")
        prov_raw = _LinedDict()
    _check_keys(prov_raw, _PROV_KEYS, f"{where} provenance", col)
    try:
        status = ProvenanceStatus(_str(prov_raw.get("status")))
    except ValueError:
        if "status" in prov_raw:
            col.add(line, f"{where}: provenance status {prov_raw.get('status')!r} is unknown")
        status = ProvenanceStatus.UNKNOWN
    source = _str(prov_raw.get("source"))
    if status is not ProvenanceStatus.UNKNOWN and not source:
        col.add(line, f"{where}: a {status.value} item must name its provenance source")
    label_source: LabelSource | None = None
    if prov_raw.get("label_source") is not None:
        try:
            label_source = LabelSource(_str(prov_raw.get("label_source")))
        except ValueError:
            col.add(line, f"{where}: label_source {prov_raw.get('label_source')!r} is unknown")
    confidence = _str(prov_raw.get("label_confidence")) or None
    if confidence is not None and confidence not in CONFIDENCES:
        col.add(line, f"{where}: label_confidence must be one of {', '.join(CONFIDENCES)}")

    summary_ja, summary_en = _str(entry.get("summary_ja")), _str(entry.get("summary_en"))
    requirement, condition = _str(entry.get("requirement")), _str(entry.get("condition"))
    if status is ProvenanceStatus.UNKNOWN:
        if summary_ja or summary_en or requirement or condition:
            col.add(line, f"{where}: an unknown item must not carry text")
        if level is not None:
            col.add(line, f"{where}: an unknown item must not carry a level")
    elif not (summary_ja or requirement):
        col.add(line, f"{where}: a {status.value} item needs summary_ja or requirement")

    refs_raw = entry.get("refs") or {}
    refs: dict[str, tuple[str, ...]] = {}
    if not isinstance(refs_raw, dict):
        col.add(line, f"{where}: refs must be a mapping of framework id to item ids")
    else:
        for key, values in refs_raw.items():
            if not isinstance(values, list):
                col.add(line, f"{where}: refs.{key} must be a list")
                continue
            refs[str(key)] = tuple(_str(v) for v in values)

    return Item(
        id=item_id,
        label=label,
        level=level,
        provenance=Provenance(
            status=status,
            source=source,
            label_source=label_source,
            label_confidence=confidence,
            label_basis=_str(prov_raw.get("label_basis")),
        ),
        summary_ja=summary_ja,
        summary_en=summary_en,
        requirement=requirement,
        condition=condition,
        label_candidates=label_candidates,
        level_candidates=level_candidates,
        refs=refs,
        location=SourceLocation(col.path, line),
    )


def _check_item_slots(items: Sequence[Item], count: int, col: _Collector, line: int | None) -> None:
    numbers = {i.number for i in items if i.number is not None}
    expected = set(range(1, count + 1))
    missing = sorted(expected - numbers)
    if missing:
        col.add(line, f"missing item numbers: {_ranges(missing)} (expected No.1–No.{count})")
    for item in items:
        if item.number is None or item.number not in expected:
            loc = item.location.line if item.location else line
            col.add(loc, f"item {item.id} is outside No.1–No.{count}")
    order = [i.number for i in items if i.number is not None]
    if order != sorted(order):
        col.add(line, "items must be listed in number order")


def _check_labels_used(
    items: Sequence[Item], labels: Sequence[Label], col: _Collector, line: int | None
) -> None:
    possible: set[int] = set()
    for item in items:
        if item.label is not None:
            possible.add(item.label)
        possible.update(item.label_candidates)
    for label in labels:
        if label.no not in possible:
            col.add(line, f"label {label.no} ({label.name_ja}) has no item and no candidate item")


def _check_level_counts(
    items: Sequence[Item], levels: Sequence[LevelDef], col: _Collector, line: int | None
) -> None:
    if not levels or any(lv.count is None for lv in levels):
        return
    all_known = all(i.level is not None for i in items)
    for lv in levels:
        have = sum(1 for i in items if i.level == lv.level)
        assert lv.count is not None  # noqa: S101 - checked above
        if have > lv.count:
            col.add(line, f"level {lv.level} has {have} items, more than the {lv.count} declared")
        elif all_known and have != lv.count:
            col.add(line, f"level {lv.level} has {have} items, the framework declares {lv.count}")


def _ranges(numbers: Iterable[int]) -> str:
    out: list[str] = []
    nums = sorted(numbers)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}–{nums[j]}")
        i = j + 1
    return ", ".join(out)


# --------------------------------------------------------------------------- contiguity


@dataclass(frozen=True, slots=True)
class LabelBounds:
    """What contiguity says about one item's label: the nearest definite labels around it."""

    item_id: str
    before: tuple[str, int] | None  # (item id, label) of the nearest earlier definite item
    after: tuple[str, int] | None

    @property
    def candidates(self) -> tuple[int, ...]:
        lo = self.before[1] if self.before else None
        hi = self.after[1] if self.after else None
        if lo is None or hi is None or lo > hi:
            return ()
        return tuple(range(lo, hi + 1))

    @property
    def proven(self) -> int | None:
        """The label when both neighbours agree (contiguous blocks leave no other choice)."""
        c = self.candidates
        return c[0] if len(c) == 1 else None


def _anchor(item: Item) -> int | None:
    """An item's label when it can serve as a premise (not itself derived by contiguity)."""
    if item.label is None or item.provenance.label_source is LabelSource.CONTIGUITY:
        return None
    return item.label


def label_bounds(items: Sequence[Item]) -> dict[str, LabelBounds]:
    """For every item, the nearest earlier and later items whose label is a premise."""
    ordered = sorted(items, key=lambda i: (i.number is None, i.number or 0))
    out: dict[str, LabelBounds] = {}
    before: tuple[str, int] | None = None
    befores: list[tuple[str, int] | None] = []
    for item in ordered:
        befores.append(before)
        anchor = _anchor(item)
        if anchor is not None:
            before = (item.id, anchor)
    after: tuple[str, int] | None = None
    for idx in range(len(ordered) - 1, -1, -1):
        item = ordered[idx]
        out[item.id] = LabelBounds(item.id, befores[idx], after)
        anchor = _anchor(item)
        if anchor is not None:
            after = (item.id, anchor)
    return out


def check_contiguity(items: Sequence[Item]) -> list[tuple[int | None, str]]:
    """Problems with the rule "labels are contiguous blocks in label order".

    Checks that premise labels never decrease with the item number, that labels derived by
    contiguity really are implied by their neighbours, and that candidates fit the bounds.
    """
    problems: list[tuple[int | None, str]] = []
    bounds = label_bounds(items)
    last: tuple[str, int] | None = None
    for item in sorted(items, key=lambda i: (i.number is None, i.number or 0)):
        line = item.location.line if item.location else None
        anchor = _anchor(item)
        if anchor is not None:
            if last is not None and anchor < last[1]:
                problems.append(
                    (
                        line,
                        f"item {item.id} has label {anchor} after item {last[0]} with label "
                        f"{last[1]}: labels must be contiguous blocks in label order",
                    )
                )
            last = (item.id, anchor)
            continue
        b = bounds[item.id]
        if item.provenance.label_source is LabelSource.CONTIGUITY:
            if b.proven is None or b.proven != item.label:
                problems.append(
                    (
                        line,
                        f"item {item.id}: label {item.label} is recorded as proven by contiguity, "
                        f"but its neighbours allow {list(b.candidates) or 'nothing'}",
                    )
                )
        elif item.label_candidates and b.candidates:
            outside = [c for c in item.label_candidates if c not in b.candidates]
            if outside:
                problems.append(
                    (
                        line,
                        f"item {item.id}: label candidates {outside} lie outside the labels "
                        f"{list(b.candidates)} allowed by its neighbours",
                    )
                )
    return problems


# --------------------------------------------------------------------------- entry points


def load_catalogue(path: str | Path) -> Framework:
    """Load and validate a catalogue file.

    Raises:
        CatalogueValidationError: when the file has problems (all of them are listed).
        CatalogueError: when the file cannot be read.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(
            f"cannot read catalogue: {exc.strerror or exc}", location=SourceLocation(str(p))
        ) from exc
    except UnicodeDecodeError as exc:
        raise CatalogueError(
            "catalogue is not UTF-8 text", location=SourceLocation(str(p))
        ) from exc
    return parse_catalogue(text, path=str(p))


def builtin_framework_ids() -> list[str]:
    return sorted(BUILTIN_FILES)


@functools.lru_cache(maxsize=8)
def load_builtin(framework_id: str = DEFAULT_FRAMEWORK) -> Framework:
    """The catalogue shipped as package data (``jama-japia``); parsed once per process."""
    try:
        name = BUILTIN_FILES[framework_id]
    except KeyError:
        known = ", ".join(builtin_framework_ids())
        raise CatalogueError(
            f"unknown built-in framework {framework_id!r} (known: {known})"
        ) from None
    ref = resources.files(BUILTIN_PACKAGE).joinpath(name)
    return parse_catalogue(ref.read_text(encoding="utf-8"), path=f"<builtin>/{name}")


def resolve_framework(spec: str | None) -> Framework:
    """A built-in framework id (``jama-japia``) or a path to a catalogue YAML file."""
    if not spec:
        return load_builtin()
    if spec in BUILTIN_FILES:
        return load_builtin(spec)
    base = spec.split("@", 1)[0]
    if base in BUILTIN_FILES:
        fw = load_builtin(base)
        if "@" in spec and spec.split("@", 1)[1] != fw.version:
            raise CatalogueError(
                f"built-in {base} is version {fw.version}, not {spec.split('@', 1)[1]}"
            )
        return fw
    if not Path(spec).exists():
        known = ", ".join(builtin_framework_ids())
        raise CatalogueError(
            f"unknown framework {spec!r}: neither a built-in id ({known}) nor a catalogue file"
        )
    return load_catalogue(spec)


# --------------------------------------------------------------------------- dumping


def framework_to_dict(fw: Framework) -> dict[str, Any]:
    """The catalogue file form of a framework (inverse of :func:`parse_catalogue`)."""
    fw_out: dict[str, Any] = {
        "id": fw.id,
        "version": fw.version,
        "name_ja": fw.name_ja,
        "name_en": fw.name_en,
    }
    if fw.item_count is not None:
        fw_out["item_count"] = fw.item_count
    if fw.labels:
        fw_out["label_count"] = len(fw.labels)
    fw_out["labels_contiguous"] = fw.labels_contiguous
    if fw.source and not fw.source.startswith("<"):
        fw_out["source"] = fw.source
    for key in ("notes_ja", "notes_en"):
        if getattr(fw, key):
            fw_out[key] = getattr(fw, key)
    fw_out["levels"] = [
        {
            k: v
            for k, v in (
                ("level", lv.level),
                ("count", lv.count),
                ("name_ja", lv.name_ja),
                ("name_en", lv.name_en),
                ("description_ja", lv.description_ja),
                ("description_en", lv.description_en),
            )
            if v not in (None, "")
        }
        for lv in fw.levels
    ]
    items: list[dict[str, Any]] = []
    for item in fw.items:
        entry: dict[str, Any] = {"no": item.number if item.number is not None else item.id}
        entry["label"] = item.label
        if item.level is not None:
            entry["level"] = item.level
        for key in ("summary_ja", "summary_en", "requirement", "condition"):
            if getattr(item, key):
                entry[key] = getattr(item, key)
        if item.label_candidates:
            entry["label_candidates"] = list(item.label_candidates)
        if item.level_candidates:
            entry["level_candidates"] = list(item.level_candidates)
        if item.refs:
            entry["refs"] = {k: list(v) for k, v in item.refs.items()}
        prov: dict[str, Any] = {"status": item.provenance.status.value}
        if item.provenance.source:
            prov["source"] = item.provenance.source
        if item.provenance.label_source is not None:
            prov["label_source"] = item.provenance.label_source.value
        if item.provenance.label_confidence:
            prov["label_confidence"] = item.provenance.label_confidence
        if item.provenance.label_basis:
            prov["label_basis"] = item.provenance.label_basis
        entry["provenance"] = prov
        items.append(entry)
    return {
        "framework": fw_out,
        "labels": [
            {"no": lb.no, "name_ja": lb.name_ja, **({"name_en": lb.name_en} if lb.name_en else {})}
            for lb in fw.labels
        ],
        "items": items,
    }


def dump_catalogue(fw: Framework) -> str:
    """Catalogue YAML text for ``fw`` that :func:`parse_catalogue` reads back unchanged."""
    return yaml.safe_dump(
        framework_to_dict(fw),
        allow_unicode=True,
        sort_keys=False,
        width=100,
        default_flow_style=False,
    )


__all__ = [
    "BUILTIN_FILES",
    "DEFAULT_FRAMEWORK",
    "CatalogueValidationError",
    "LabelBounds",
    "builtin_framework_ids",
    "check_contiguity",
    "dump_catalogue",
    "framework_to_dict",
    "label_bounds",
    "load_builtin",
    "load_catalogue",
    "parse_catalogue",
    "resolve_framework",
]
