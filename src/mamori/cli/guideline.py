"""``mamori guideline ...`` and ``mamori assess ...``: catalogue and file-based assessments.

Thin wrappers over :mod:`mamori.guideline`; every error is a one-line (or, for catalogue and
sheet validation, one line per problem) message on stderr with exit code 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from mamori.errors import MamoriError, ValidationError
from mamori.guideline import checks as checks_mod
from mamori.guideline.assessment import (
    Assessment,
    Status,
    add_evidence,
    framework_of,
    load_assessment,
    new_assessment,
    save_assessment,
    set_answer,
)
from mamori.guideline.checksheet import (
    ColumnMapping,
    apply_checksheet,
    export_checksheet,
    read_checksheet,
)
from mamori.guideline.compare import compare
from mamori.guideline.evidence import DEFAULT_MAX_BYTES, EvidenceStore, validate_evidence
from mamori.guideline.loader import dump_catalogue, load_catalogue, resolve_framework
from mamori.guideline.models import Framework
from mamori.guideline.questionnaire import QUESTIONS, target_level
from mamori.guideline.roadmap import build_roadmap
from mamori.guideline.scoring import catalogue_notice, score

guideline_app = typer.Typer(
    help="Guideline catalogues (JAMA/JAPIA, METI SCS). ガイドラインのカタログ。",
    no_args_is_help=True,
)
assess_app = typer.Typer(
    help="Self-assessments: import/export the official check sheet, score, compare. 自己評価。",
    no_args_is_help=True,
)

FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]
LangOpt = Annotated[str, typer.Option("--lang", help="ja or en")]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Explicit layout when detection fails: sheet=NAME,header=5,no=A,requirement=C,"
        "answer=F; answer words: value:○=対策完了",
    ),
]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except MamoriError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise ValidationError(f"--format must be table or json, not {fmt!r}")


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


# --------------------------------------------------------------------------- guideline


@guideline_app.command("items")
def items_cmd(
    framework: Annotated[
        str | None, typer.Option("--framework", help="Built-in id (jama-japia) or a YAML file")
    ] = None,
    fmt: FormatOpt = "table",
    level: Annotated[
        int | None, typer.Option("--level", help="Only items within this level")
    ] = None,
    label: Annotated[int | None, typer.Option("--label", help="Only items of this label")] = None,
    lang: LangOpt = "ja",
) -> None:
    """List the items of a framework catalogue. 項目一覧。"""
    with _errors():
        _check_format(fmt)
        fw = resolve_framework(framework)
        items = fw.items_within_level(level) if level is not None else list(fw.items)
        if label is not None:
            items = [i for i in items if i.label == label]
        if fmt == "json":
            _echo_json(
                {
                    "framework": {"id": fw.id, "version": fw.version, "name": fw.name_ja},
                    "catalogue": _counts(fw),
                    "notice": catalogue_notice(fw, lang),
                    "labels": [
                        {"no": lb.no, "name_ja": lb.name_ja, "name_en": lb.name_en}
                        for lb in fw.labels
                    ],
                    "items": [
                        {
                            "no": i.id,
                            "label": i.label,
                            "label_candidates": list(i.label_candidates),
                            "level": i.level,
                            "level_candidates": list(i.level_candidates),
                            "summary_ja": i.summary_ja,
                            "summary_en": i.summary_en,
                            "requirement": i.requirement,
                            "condition": i.condition,
                            "provenance": i.provenance.status.value,
                            "source": i.provenance.source,
                            "label_source": i.provenance.label_source.value
                            if i.provenance.label_source
                            else None,
                            "label_confidence": i.provenance.label_confidence,
                            "label_basis": i.provenance.label_basis,
                            "refs": {k: list(v) for k, v in i.refs.items()},
                        }
                        for i in items
                    ],
                }
            )
            return
        typer.echo(f"{fw.name_ja} {fw.version} ({fw.key})")
        for i in items:
            lab = (
                str(i.label)
                if i.label is not None
                else "/".join(map(str, i.label_candidates)) or "?"
            )
            lv = str(i.level) if i.level is not None else "?"
            text = i.text(lang) or ("（内容不明）" if lang == "ja" else "(unknown)")
            typer.echo(
                f"{i.display_id:>8}  L{lab:<6} Lv{lv}  {i.provenance.status.value:<8}  {text}"
            )
        typer.echo(catalogue_notice(fw, lang))


def _counts(fw: Framework) -> dict[str, int]:
    c = fw.provenance_counts()
    return {
        "items": c.total,
        "verified": c.verified,
        "derived": c.derived,
        "unknown": c.unknown,
        "level_unknown": c.level_unknown,
    }


@guideline_app.command("validate")
def validate_cmd(path: Annotated[Path, typer.Argument(help="Catalogue YAML file")]) -> None:
    """Validate a catalogue file; every problem is printed with file and line."""
    with _errors():
        fw = load_catalogue(path)
        typer.echo(f"ok: {fw.key}, {len(fw.items)} items, {len(fw.labels)} labels")


@guideline_app.command("import-meti")
def import_meti_cmd(
    csv_path: Annotated[Path, typer.Argument(help="METI SCS criteria CSV")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the catalogue YAML here")] = None,
) -> None:
    """Import METI's SCS criteria as a second framework (and check the JAMA cross-reference)."""
    from mamori.guideline.meti import load_meti_csv

    with _errors():
        imported = load_meti_csv(csv_path, jama=resolve_framework("jama-japia"))
        fw = imported.framework
        typer.echo(
            f"{fw.key}: {len(fw.items)} criteria, {len(fw.labels)} labels, "
            f"{len(imported.crossref.links)} links to JAMA 2.3"
        )
        for warning in imported.warnings:
            typer.echo(f"warning: {warning}", err=True)
        if out is not None:
            out.write_text(dump_catalogue(fw), encoding="utf-8")
            typer.echo(f"wrote {out}")


@guideline_app.command("checks")
def checks_cmd() -> None:
    """List the automatic evidence checks and the items they evaluate."""
    for name, cls in checks_mod.checks.items():
        typer.echo(f"{cls.FRAMEWORK} No.{cls.ITEM:<5} {name:<22} {cls.TITLE_JA}")


# --------------------------------------------------------------------------- assess


def _load(path: Path) -> tuple[Assessment, Framework]:
    """An assessment file, or an official .xlsx sheet read on the fly."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        base = resolve_framework("jama-japia")
        imported = read_checksheet(path, base=base)
        a = new_assessment(imported.framework, tenant="local")
        apply_checksheet(a, imported)
        return a, imported.framework
    a = load_assessment(path)
    return a, framework_of(a)


@assess_app.command("new")
def new_cmd(
    out: Annotated[Path, typer.Argument(help="Assessment file to create")],
    tenant: Annotated[str, typer.Option("--tenant")] = "local",
    framework: Annotated[str | None, typer.Option("--framework")] = None,
    target: Annotated[int | None, typer.Option("--target-level")] = None,
    title: Annotated[str, typer.Option("--title")] = "",
) -> None:
    """Create an empty assessment file."""
    with _errors():
        if out.exists():
            raise ValidationError(f"{out} exists")
        fw = resolve_framework(framework)
        a = new_assessment(fw, tenant=tenant, target_level=target, title=title)
        save_assessment(a, out)
        typer.echo(f"created {out} ({fw.key}, tenant {tenant})")


@assess_app.command("import")
def import_cmd(
    sheet: Annotated[Path, typer.Argument(help="Official check sheet (.xlsx)")],
    assessment: Annotated[
        Path | None,
        typer.Option("--assessment", "-a", help="Existing assessment to update (answers survive)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "--output", "-o", help="Where to write")
    ] = None,
    tenant: Annotated[str, typer.Option("--tenant")] = "local",
    mapping: MapOpt = None,
    lenient: Annotated[
        bool, typer.Option("--lenient", help="Skip bad rows instead of refusing the import")
    ] = False,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Import the official check sheet: its text becomes the catalogue, its answers are applied."""
    with _errors():
        _check_format(fmt)
        cmap = ColumnMapping.parse(mapping or [])
        if assessment is not None and assessment.exists():
            a = load_assessment(assessment)
            base = framework_of(a)
        else:
            base = resolve_framework("jama-japia")
            a = new_assessment(base, tenant=tenant)
        imported = read_checksheet(sheet, base=base, mapping=cmap, strict=not lenient)
        result = apply_checksheet(a, imported, actor=actor)
        target = out or assessment or sheet.with_suffix(".assessment.json")
        save_assessment(a, target)
        counts = _counts(imported.framework)
        summary = {
            "assessment": str(target),
            "layout": imported.layout.describe(),
            "rows": len(imported.rows),
            "answers_in_sheet": len(imported.answers),
            "changed": result.changed,
            "unchanged": result.unchanged,
            "kept": result.kept,
            "catalogue": counts,
            "problems": [str(p) for p in imported.problems],
            "warnings": imported.warnings,
        }
        if fmt == "json":
            _echo_json(summary)
            return
        typer.echo(f"read {imported.layout.describe()}")
        typer.echo(
            f"{len(imported.rows)} item rows, {len(imported.answers)} answers "
            f"({result.changed} changed, {result.unchanged} unchanged, {result.kept} kept)"
        )
        typer.echo(catalogue_notice(imported.framework))
        for p in imported.problems:
            typer.echo(f"skipped: {p}", err=True)
        for w in imported.warnings:
            typer.echo(f"warning: {w}", err=True)
        typer.echo(f"wrote {target}")


@assess_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    sheet: Annotated[
        Path, typer.Option("--sheet", "--workbook", help="The official workbook to copy")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "--output", "-o", help="The copy to write")
    ] = None,
    mapping: MapOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
) -> None:
    """Write the answers into a copy of the official workbook (layout and formulas untouched)."""
    with _errors():
        a = load_assessment(file)
        target = out or sheet.with_name(f"{sheet.stem}_回答{sheet.suffix}")
        result = export_checksheet(
            a, sheet, target, mapping=ColumnMapping.parse(mapping or []), overwrite=overwrite
        )
        typer.echo(f"wrote {result.written} answers into {result.path}")
        if result.skipped:
            typer.echo(
                f"warning: {len(result.skipped)} answered items have no row in the sheet: "
                + ", ".join(result.skipped[:20]),
                err=True,
            )


@assess_app.command("score")
def score_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file or official .xlsx")],
    fmt: FormatOpt = "table",
    lang: LangOpt = "ja",
) -> None:
    """Achievement rate per level (cumulative) and per label. 達成率。"""
    with _errors():
        _check_format(fmt)
        a, fw = _load(file)
        s = score(fw, a)
        if fmt == "json":
            data = s.to_dict(fw)
            data["notice"] = catalogue_notice(fw, lang)
            _echo_json(data)
            return
        typer.echo(f"{fw.name_ja} {fw.version} — {a.title or file.name}")
        for lv, r in sorted(s.levels.items()):
            extra = f", レベル未確定 {r.level_uncertain}" if r.level_uncertain else ""
            typer.echo(
                f"Lv{lv}: {_pct(r.rate)}  達成 {r.achieved}/{r.applicable}  一部 {r.partial}  "
                f"未対策 {r.not_done}  未回答 {r.unanswered}  対象外 {r.not_applicable}{extra}"
            )
        for no, r in sorted(s.labels.items()):
            typer.echo(
                f"  {no:>2} {fw.label(no).name(lang)}: {_pct(r.rate)} ({r.achieved}/{r.applicable})"
            )
        if s.contradicted_items:
            typer.echo("自動チェックと矛盾: " + ", ".join(s.contradicted_items))
        typer.echo(catalogue_notice(fw, lang))


@assess_app.command("compare")
def compare_cmd(
    a_path: Annotated[Path, typer.Argument(metavar="A", help="Earlier assessment")],
    b_path: Annotated[Path, typer.Argument(metavar="B", help="Later assessment")],
    fmt: FormatOpt = "table",
) -> None:
    """What improved and what regressed from A to B."""
    with _errors():
        _check_format(fmt)
        a, fa = _load(a_path)
        b, fb = _load(b_path)
        c = compare(fa, a, fb, b)
        if fmt == "json":
            _echo_json(c.to_dict())
            return
        typer.echo(
            f"改善 {len(c.improved)} / 後退 {len(c.regressed)} / その他の変化 {len(c.changed)}"
        )
        for title, changes in (("改善", c.improved), ("後退", c.regressed), ("変化", c.changed)):
            for ch in changes:
                before = ch.before.value if ch.before else "未回答"
                after = ch.after.value if ch.after else "未回答"
                typer.echo(f"  {title} {ch.item_id}: {before} → {after}")
        for lv, d in sorted(c.level_deltas.items()):
            typer.echo(f"Lv{lv}: {'—' if d is None else f'{d * 100:+.1f}pt'}")


@assess_app.command("answer")
def answer_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    item: Annotated[str, typer.Argument(help="Item number")],
    status: Annotated[str, typer.Argument(help="対策完了 / 一部対策 / 未対策 / 対象外")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why 対象外")] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    due: Annotated[str | None, typer.Option("--due", help="YYYY-MM-DD")] = None,
    effort: Annotated[
        float | None, typer.Option("--effort", help="Effort estimate in days")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Set one answer (recorded in the history)."""
    with _errors():
        a = load_assessment(file)
        fw = framework_of(a)
        extra: dict[str, Any] = {}
        if due is not None:
            extra["due"] = due
        if effort is not None:
            extra["effort_days"] = effort
        set_answer(
            a,
            fw,
            item,
            Status.parse(status),
            reason=reason,
            comment=comment,
            owner=owner,
            actor=actor,
            **extra,
        )
        save_assessment(a, file)
        typer.echo(f"{item}: {Status.parse(status).value}")


@assess_app.command("evidence")
def evidence_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    item: Annotated[str, typer.Argument(help="Item number")],
    evidence: Annotated[Path, typer.Argument(help="Evidence file (PDF, image, text, Office)")],
    store: Annotated[Path, typer.Option("--store", help="Evidence directory")] = Path("evidence"),
    max_bytes: Annotated[int, typer.Option("--max-bytes")] = DEFAULT_MAX_BYTES,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Attach an evidence file (checked, hashed with SHA-256, stored per tenant)."""
    with _errors():
        a = load_assessment(file)
        fw = framework_of(a)
        if not fw.has_item(item):
            raise ValidationError(f"item {item} is not in {fw.key}")
        with evidence.open("rb") as fh:
            checked = validate_evidence(fh, evidence.name, max_bytes=max_bytes, actor=actor)
        ref = EvidenceStore(store).put(a.tenant, checked)
        add_evidence(a, fw, item, ref, actor=actor)
        save_assessment(a, file)
        typer.echo(f"{item}: {ref.filename} sha256={ref.sha256} ({ref.size} bytes)")


@assess_app.command("target")
def target_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    yes: Annotated[
        list[str] | None,
        typer.Option("--yes", help="Question answered yes: " + ", ".join(q.id for q in QUESTIONS)),
    ] = None,
    lang: LangOpt = "ja",
) -> None:
    """Set the target level from the questionnaire (Lv2/Lv3 criteria)."""
    with _errors():
        a = load_assessment(file)
        answers: dict[str, bool] = {q.id: False for q in QUESTIONS}
        for qid in yes or []:
            if qid not in answers:
                raise ValidationError(f"unknown question {qid!r}")
            answers[qid] = True
        result = target_level(answers)
        a.target_level = result.level
        save_assessment(a, file)
        typer.echo(result.explain(lang))


@assess_app.command("questions")
def questions_cmd(lang: LangOpt = "ja") -> None:
    """The target-level questionnaire (answer with `mamori assess target FILE --yes ID`)."""
    for q in QUESTIONS:
        typer.echo(f"{q.id:<22} Lv{q.level}  {q.text_en if lang == 'en' else q.text_ja}")


@assess_app.command("history")
def history_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    item: Annotated[str | None, typer.Argument(help="Only this item")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Every change of the answers: when, who, through what, from what to what."""
    with _errors():
        _check_format(fmt)
        a = load_assessment(file)
        entries = [h for h in a.history if item is None or h.item_id == item]
        if fmt == "json":
            _echo_json(
                [
                    {
                        "item": h.item_id,
                        "at": h.at.isoformat(),
                        "actor": h.actor,
                        "source": h.source,
                        "before": h.before,
                        "after": h.after,
                    }
                    for h in entries
                ]
            )
            return
        for h in entries:
            before = (h.before or {}).get("status") or "未回答"
            after = h.after.get("status") or "未回答"
            typer.echo(
                f"{h.at:%Y-%m-%d %H:%M} {h.item_id:>8} {before} → {after}  "
                f"({h.actor or '-'}, {h.source})"
            )


@assess_app.command("roadmap")
def roadmap_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file or .xlsx")],
    level: Annotated[int | None, typer.Option("--level", help="Target level")] = None,
    fmt: FormatOpt = "table",
    lang: LangOpt = "ja",
) -> None:
    """Open items of the target level, Lv1 first, with the capability that closes each."""
    with _errors():
        _check_format(fmt)
        a, fw = _load(file)
        r = build_roadmap(fw, a, target_level=level)
        if fmt == "json":
            _echo_json(r.to_dict(lang))
            return
        typer.echo(
            f"目標レベル {r.target_level}: 未達 {len(r.entries)} 項目, "
            f"工数見込み {r.total_effort_days:g} 人日"
        )
        for e in r.entries:
            caps = (
                ", ".join(c.name_ja if lang == "ja" else c.name_en for c in e.capabilities) or "—"
            )
            mark = " [自動チェックと矛盾]" if e.contradicted else ""
            typer.echo(
                f"  Lv{e.item.level} {e.item.display_id:>7} {e.item.text(lang)}{mark} → {caps}"
            )
        if r.uncertain:
            typer.echo(
                f"レベル未確定の未達項目: {len(r.uncertain)}（公式チェックシートの取り込みで確定）"
            )


@assess_app.command("check")
def check_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    observations: Annotated[Path, typer.Option("--observations", help="Observations JSON")],
) -> None:
    """Run the automatic evidence checks on observations and record the results."""
    with _errors():
        a = load_assessment(file)
        try:
            data = json.loads(observations.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValidationError(f"cannot read observations: {exc}") from exc
        obs = checks_mod.Observations.from_dict(data)
        records = checks_mod.run_checks(obs, framework_id=a.framework_id)
        contradicted = checks_mod.record_checks(a, records)
        save_assessment(a, file)
        for rec in records:
            verdict = {True: "pass", False: "FAIL", None: "n/a"}[rec.passed]
            typer.echo(f"No.{rec.item_id} {rec.check}: {verdict} — {rec.summary_ja}")
        for item_id in contradicted:
            typer.echo(f"contradicted: No.{item_id} is declared 対策完了 but its check fails")


@assess_app.command("report")
def report_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file or .xlsx")],
    html: Annotated[Path | None, typer.Option("--html", help="Write an HTML report")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write a PDF report")] = None,
    lang: LangOpt = "ja",
) -> None:
    """Management report in Japanese (HTML and/or PDF) with level and label charts."""
    from mamori.guideline.report import build_report, render_html, render_pdf

    with _errors():
        if html is None and pdf is None:
            raise ValidationError("give --html and/or --pdf")
        a, fw = _load(file)
        report = build_report(fw, a, lang=lang)
        if html is not None:
            html.write_text(render_html(report), encoding="utf-8")
            typer.echo(f"wrote {html}")
        if pdf is not None:
            pdf.write_bytes(render_pdf(report))
            typer.echo(f"wrote {pdf}")


@assess_app.command("propose")
def propose_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment that receives proposals")],
    source: Annotated[Path, typer.Option("--from", help="Assessment of the other framework")],
    meti_csv: Annotated[Path, typer.Option("--meti-csv", help="METI SCS criteria CSV")],
) -> None:
    """Propose answers from the other framework's assessment (nothing is applied)."""
    from mamori.guideline.meti import load_meti_csv, propose_answers

    with _errors():
        target = load_assessment(file)
        src = load_assessment(source)
        imported = load_meti_csv(meti_csv, jama=resolve_framework("jama-japia"))
        fw = framework_of(target) if target.framework_id != "meti-scs" else imported.framework
        new = propose_answers(src, target, fw, imported.crossref)
        save_assessment(target, file)
        for p in new:
            typer.echo(f"{p.id}  {p.item_id}: {p.status.value}  ({p.basis})")
        typer.echo(f"{len(new)} proposals; accept with `mamori assess accept {file} ID`")


@assess_app.command("accept")
def accept_cmd(
    file: Annotated[Path, typer.Argument(help="Assessment file")],
    proposal_ids: Annotated[list[str], typer.Argument(help="Proposal ids")],
    meti_csv: Annotated[Path | None, typer.Option("--meti-csv")] = None,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
) -> None:
    """Accept proposals: they become answers (with history)."""
    from mamori.guideline.meti import accept_proposal, load_meti_csv

    with _errors():
        a = load_assessment(file)
        if a.framework_id == "meti-scs" and a.catalogue is None:
            if meti_csv is None:
                raise ValidationError("a METI assessment needs --meti-csv for its catalogue")
            fw = load_meti_csv(meti_csv).framework
        else:
            fw = framework_of(a)
        for pid in proposal_ids:
            p = accept_proposal(a, fw, pid, actor=actor)
            typer.echo(f"accepted {p.id}: {p.item_id} → {p.status.value}")
        save_assessment(a, file)


def register(app: typer.Typer) -> None:
    """Add the ``guideline`` and ``assess`` command groups."""
    app.add_typer(guideline_app, name="guideline")
    app.add_typer(assess_app, name="assess")


__all__ = ["register"]
