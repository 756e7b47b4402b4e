"""``mamori ingest``: import log files, list parsers.

``mamori ingest FILE_OR_DIR --source NAME --tenant T`` parses files (plain or ``.gz``,
directories recursively) with a progress bar. The normalised events go to ``--output``
(JSON lines, quarantined records beside it) or, without it, onto the bus spool in the
data directory (subjects ``mamori.events.<tenant>.<source>``) for the store consumer.
``mamori ingest parsers`` lists the registered parsers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from mamori.bus.factory import open_bus
from mamori.config import Settings
from mamori.errors import MamoriError
from mamori.ingest.config import IngestConfig
from mamori.ingest.importer import import_paths, total_bytes
from mamori.ingest.parsers import parsers
from mamori.ingest.sinks import BusEventSink, JsonlSink
from mamori.ingest.sniffing import DEFAULT_PRIORITY
from mamori.model import EventSink

MESSAGES = {
    "need_tenant": ("--tenant を指定してください", "--tenant is required"),
    "done": (
        "取り込み完了: ファイル {files} 件、イベント {events} 件、隔離 {quarantined} 件",
        "imported: {files} files, {events} events, {quarantined} quarantined",
    ),
    "skipped": ("読み込めなかったファイル: {files}", "files not imported: {files}"),
    "to_output": ("出力先: {path}", "written to: {path}"),
    "to_quarantine": ("隔離レコード: {path}", "quarantined records: {path}"),
    "to_spool": (
        "イベントはスプール {path} に格納されました ({count} 件)",
        "events queued in the spool {path} ({count})",
    ),
    "parsers_title": ("登録済みパーサー", "Registered parsers"),
    "progress": ("取り込み中", "importing"),
}


def _t(key: str, lang: str, **values: object) -> str:
    ja, en = MESSAGES[key]
    return (ja if lang == "ja" else en).format(**values)


def _list_parsers(lang: str) -> None:
    table = Table(title=_t("parsers_title", lang))
    for column in ("name", "data_type", "priority", "description"):
        table.add_column(column)
    for name, cls in parsers.items():
        priority = str(getattr(cls, "PRIORITY", DEFAULT_PRIORITY))
        description = cls.DESCRIPTION or (cls.__doc__ or "").strip().split("\n")[0]
        table.add_row(name, cls.DATA_TYPE, priority, description)
    Console().print(table)


def ingest(
    target: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_DIR|parsers",
            help="A log file or directory to import, or 'parsers' to list the parsers.",
        ),
    ],
    source: Annotated[
        str,
        typer.Option("--source", "-s", help="Configured source or parser name; 'auto' sniffs."),
    ] = "auto",
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant of the logs.")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Host for records that name none.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write events as JSON lines here.")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="mamori TOML file (its mamori.ingest table).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (spool).")
    ] = None,
) -> None:
    """Import log files (or list parsers with 'parsers')."""
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    lang = settings.default_language
    path = Path(target)
    if target == "parsers" and not path.exists():
        _list_parsers(lang)
        return
    if not tenant:
        typer.echo(f"error: {_t('need_tenant', lang)}", err=True)
        raise typer.Exit(2)
    try:
        config = IngestConfig.load(config_file)
        _import(
            path,
            source=source,
            tenant=tenant,
            host=host,
            output=output,
            settings=settings,
            config=config,
            lang=lang,
        )
    except MamoriError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _import(
    path: Path,
    *,
    source: str,
    tenant: str,
    host: str | None,
    output: Path | None,
    settings: Settings,
    config: IngestConfig,
    lang: str,
) -> None:
    total = total_bytes([path])
    spool: Path | None = None
    sink: EventSink
    if output is not None:
        sink = jsonl = JsonlSink(output)
        close = jsonl.close
    else:
        # Until the store exists the events wait on the bus; with the store this becomes
        # `sink = StoreEventSink(settings)` - the one line to change.
        spool = settings.ensure_data_dir() / "spool"
        bus = open_bus(
            config.bus.url,
            data_dir=settings.data_dir,
            max_bytes=config.bus.max_bytes,
            fsync=config.bus.fsync,
        )
        sink = bus_sink = BusEventSink(bus)
        close = bus_sink.close
    columns = (
        TextColumn(_t("progress", lang)),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("import", total=total or None)
            result = import_paths(
                [path],
                source=source,
                sink=sink,
                tenant=tenant,
                host=host,
                config=config,
                progress=lambda n: progress.advance(task, n),
            )
    finally:
        close()
    typer.echo(
        _t("done", lang, files=result.files, events=result.events, quarantined=result.quarantined)
    )
    if result.skipped:
        typer.echo(_t("skipped", lang, files=", ".join(result.skipped)))
    if output is not None:
        typer.echo(_t("to_output", lang, path=output))
        if result.quarantined:
            typer.echo(_t("to_quarantine", lang, path=jsonl.quarantine_path))
    else:
        typer.echo(_t("to_spool", lang, path=spool, count=result.events))


def register(app: typer.Typer) -> None:
    app.command(
        "ingest", help="ログの取り込み / import log files; 'ingest parsers' lists parsers."
    )(ingest)


__all__ = ["register"]
