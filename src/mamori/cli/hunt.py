"""``mamori hunt``: offline Sigma hunting over EVTX, Windows JSON and every registered log format.

Exit codes: 0 whether or not anything was detected; 1 on a runtime error (rules that cannot
be loaded at all, an output file that cannot be written). Unreadable input files and broken
rules are reported on stderr; the rest is still processed.

Sigma placeholders (``%name%`` with the ``expand`` modifier) get their values from
``--placeholders FILE.yml`` (names mapped to a value or a list) and ``--placeholder NAME=VALUE``
(repeatable; overrides a file's name); a rule whose placeholder has no value is refused with
that reason (:mod:`mamori.detect.sigma.placeholders`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mamori.config import Settings
from mamori.detect.engine import SigmaEngine
from mamori.detect.hunt import HuntResult, hunt, input_files
from mamori.detect.sigma.loader import RuleSet, bundled_rules_dir, load_rules
from mamori.detect.sigma.placeholders import (
    from_assignments,
    load_placeholder_file,
    merge_placeholders,
)
from mamori.errors import ConfigError, MamoriError, RuleError
from mamori.model import Alert, Severity


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


class Level(StrEnum):
    informational = "informational"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


LEVEL_STYLE = {
    "informational": "dim",
    "low": "cyan",
    "medium": "yellow",
    "high": "red",
    "critical": "bold red",
}

CSV_COLUMNS = (
    "@timestamp",
    "level",
    "rule_title",
    "rule_id",
    "host",
    "source_file",
    "tags",
    "matched",
    "event",
)


def alert_record(alert: Alert) -> dict[str, Any]:
    """The JSONL record of one detection."""
    data = alert.to_dict()
    return {
        "rule_id": data["rule_id"],
        "rule_title": data["rule_title"],
        "level": data["level"],
        "tags": data["tags"],
        "@timestamp": data["@timestamp"],
        "host": data["host"],
        "source_file": data["source_file"],
        "tenant": data["tenant"],
        "matched": data["matched"],
        "event": data["event"],
        **({"events": data["events"]} if data["events"] else {}),
    }


def write_jsonl(alerts: list[Alert], out: TextIO) -> None:
    for alert in alerts:
        out.write(json.dumps(alert_record(alert), ensure_ascii=False, default=str))
        out.write("\n")


def write_csv(alerts: list[Alert], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for alert in alerts:
        rec = alert_record(alert)
        writer.writerow(
            [
                rec["@timestamp"],
                rec["level"],
                rec["rule_title"],
                rec["rule_id"],
                rec["host"] or "",
                rec["source_file"] or "",
                ";".join(rec["tags"]),
                json.dumps(rec["matched"], ensure_ascii=False, default=str),
                json.dumps(rec["event"], ensure_ascii=False, default=str),
            ]
        )


def detections_table(alerts: list[Alert]) -> Table:
    table = Table(title="検知一覧 / Detections", show_lines=False)
    for name in (
        "時刻 / Time",
        "レベル / Level",
        "ルール / Rule",
        "ホスト / Host",
        "一致 / Matched",
    ):
        table.add_column(name, overflow="fold")
    for alert in alerts:
        level = alert.level.value
        matched = ", ".join(f"{k}={str(v)[:80]}" for k, v in list(alert.matched.items())[:4])
        table.add_row(
            alert.timestamp.isoformat().replace("+00:00", "Z"),
            f"[{LEVEL_STYLE[level]}]{level}[/]",
            alert.rule_title,
            alert.host or "",
            matched,
        )
    return table


def summary_tables(alerts: list[Alert]) -> list[Table]:
    by_level = Counter(a.level for a in alerts)
    levels = Table(title="レベル別 / By level")
    levels.add_column("レベル / Level")
    levels.add_column("件数 / Count", justify="right")
    for level in sorted(Severity, key=lambda s: -s.rank):
        if by_level.get(level):
            levels.add_row(f"[{LEVEL_STYLE[level.value]}]{level.value}[/]", str(by_level[level]))
    levels.add_row("合計 / Total", str(len(alerts)))
    by_rule = Counter((a.level, a.rule_title) for a in alerts)
    rules = Table(title="ルール別 / By rule")
    rules.add_column("レベル / Level")
    rules.add_column("ルール / Rule", overflow="fold")
    rules.add_column("件数 / Count", justify="right")
    for (level, title), count in sorted(
        by_rule.items(), key=lambda kv: (-kv[0][0].rank, -kv[1], kv[0][1])
    ):
        rules.add_row(f"[{LEVEL_STYLE[level.value]}]{level.value}[/]", title, str(count))
    return [levels, rules]


def _cache_dir() -> Path | None:
    try:
        settings = Settings()
        return settings.ensure_data_dir() / "cache" / "sigma"
    except (ConfigError, OSError, ValueError):
        return None


def load_ruleset(
    rule_dirs: list[Path],
    *,
    use_cache: bool = True,
    placeholders: dict[str, list[str]] | None = None,
) -> RuleSet:
    paths = rule_dirs or [bundled_rules_dir()]
    for path in paths:
        if not path.exists():
            raise RuleError(f"rule path {path} does not exist")
    return load_rules(
        paths, cache_dir=_cache_dir() if use_cache else None, placeholders=placeholders
    )


def hunt_placeholders(assignments: list[str], files: list[Path]) -> dict[str, list[str]]:
    """Placeholder values of ``--placeholders FILE`` (in order) then ``--placeholder
    NAME=VALUE`` (a name given on the command line replaces the files' values).

    Raises:
        ConfigError: a file or an assignment is not valid.
    """
    sources = [load_placeholder_file(path) for path in files]
    sources.append(from_assignments(assignments))
    return merge_placeholders(*sources)


def run_hunt(
    paths: list[Path],
    rule_dirs: list[Path],
    *,
    fmt: OutputFormat,
    output: Path | None,
    min_level: Level,
    use_cache: bool,
    err: Console,
    show_progress: bool = True,
    placeholders: dict[str, list[str]] | None = None,
) -> HuntResult:
    ruleset = load_ruleset(rule_dirs, use_cache=use_cache, placeholders=placeholders)
    for problem in ruleset.problems:
        err.print(f"[yellow]ルール除外 / rule skipped:[/] {problem}", markup=True, highlight=False)
    if not ruleset.rules and not ruleset.correlations:
        raise RuleError("no usable rule was loaded")
    cache_note = " (cache)" if ruleset.from_cache else ""
    err.print(
        f"ルール / rules: {len(ruleset.rules)} + {len(ruleset.correlations)} correlation"
        f"{cache_note}, 除外 / skipped: {len(ruleset.problems)}",
        highlight=False,
    )
    engine = SigmaEngine(ruleset, min_level=min_level.value, defer_correlation=True)
    files = [p for p, problem in input_files(paths) if problem is None]
    total = 0
    for file in files:
        with contextlib.suppress(OSError):
            total += file.stat().st_size
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} B"),
        TimeRemainingColumn(),
        console=err,
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("ハンティング中 / hunting", total=max(total, 1))

        def advance(path: Path, size: int) -> None:  # noqa: ARG001 - callback signature
            progress.advance(task, size)

        result = hunt(paths, engine, on_file=advance)
    for path, reason in result.unreadable:
        err.print(f"[red]読めないファイル / unreadable:[/] {path}: {reason}", highlight=False)
    if result.quarantined:
        err.print(
            f"[yellow]隔離レコード / quarantined records:[/] {len(result.quarantined)}",
            highlight=False,
        )
        for item in result.quarantined[:20]:
            err.print(f"  {item.location}: {item.reason}", highlight=False, markup=False)
    _write(result.alerts, fmt, output)
    for table in summary_tables(result.alerts):
        err.print(table)
    err.print(
        f"ファイル / files: {result.files}, イベント / events: {result.events}, "
        f"検知 / detections: {len(result.alerts)}",
        highlight=False,
    )
    return result


def _write(alerts: list[Alert], fmt: OutputFormat, output: Path | None) -> None:
    if fmt is OutputFormat.table:
        buffer = io.StringIO()
        console = Console(file=buffer, width=160, force_terminal=False)
        console.print(detections_table(alerts))
        text = buffer.getvalue()
    else:
        buffer = io.StringIO()
        (write_jsonl if fmt is OutputFormat.jsonl else write_csv)(alerts, buffer)
        text = buffer.getvalue()
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise MamoriError(f"cannot write {output}: {exc.strerror or exc}") from exc


def register(app: typer.Typer) -> None:
    @app.command("hunt")
    def hunt_command(
        paths: Annotated[
            list[Path], typer.Argument(help="EVTX/JSON/log files or folders to hunt through.")
        ],
        rules: Annotated[
            list[Path] | None,
            typer.Option(
                "--rules", help="Sigma rule folder or file (repeatable). Default: bundled."
            ),
        ] = None,
        fmt: Annotated[
            OutputFormat, typer.Option("--format", help="Output format.")
        ] = OutputFormat.table,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write detections to this file.")
        ] = None,
        min_level: Annotated[
            Level, typer.Option("--min-level", help="Lowest rule level to report.")
        ] = Level.informational,
        no_cache: Annotated[
            bool, typer.Option("--no-cache", help="Do not use the compiled-rule cache.")
        ] = False,
        no_progress: Annotated[
            bool, typer.Option("--no-progress", help="Hide the progress bar.")
        ] = False,
        placeholder: Annotated[
            list[str] | None,
            typer.Option(
                "--placeholder",
                help="Value of a Sigma placeholder for the expand modifier, NAME=VALUE "
                "(repeatable; a name given twice gets both values).",
            ),
        ] = None,
        placeholder_files: Annotated[
            list[Path] | None,
            typer.Option(
                "--placeholders",
                help="YAML file mapping placeholder names to a value or a list of values "
                "(repeatable; --placeholder overrides a name).",
            ),
        ] = None,
    ) -> None:
        """Sigma ルールでログを検索する / Hunt through logs with Sigma rules (like Chainsaw)."""
        err = Console(stderr=True)
        try:
            values = hunt_placeholders(list(placeholder or []), list(placeholder_files or []))
            run_hunt(
                paths,
                list(rules or []),
                fmt=fmt,
                output=output,
                min_level=min_level,
                use_cache=not no_cache,
                err=err,
                show_progress=not no_progress,
                placeholders=values,
            )
        except MamoriError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


__all__ = [
    "alert_record",
    "hunt_placeholders",
    "register",
    "run_hunt",
    "write_csv",
    "write_jsonl",
]
