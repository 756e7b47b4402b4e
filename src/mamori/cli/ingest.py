"""``mamori ingest``: import log files, list parsers.

``mamori ingest FILE_OR_DIR --source NAME --tenant T`` parses files (plain or ``.gz``,
directories recursively) with a progress bar. The normalised events go to ``--output``
(JSON lines, quarantined records beside it) or, without it, into the store (the database
of the settings), through the same idempotent writer as the store consumer of ``mamori up``.
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

from mamori.config import Settings
from mamori.errors import MamoriError
from mamori.ingest.config import IngestConfig
from mamori.ingest.importer import import_paths, total_bytes
from mamori.ingest.parsers import parsers
from mamori.ingest.sinks import JsonlSink
from mamori.ingest.sniffing import DEFAULT_PRIORITY
from mamori.model import EventSink
from mamori.store.repos import tenants

MESSAGES = {
    "need_tenant": ("--tenant を指定してください", "--tenant is required"),
    "done": (
        "取り込み完了: ファイル {files} 件、イベント {events} 件、隔離 {quarantined} 件",
        "imported: {files} files, {events} events, {quarantined} quarantined",
    ),
    "skipped": ("読み込めなかったファイル: {files}", "files not imported: {files}"),
    "to_output": ("出力先: {path}", "written to: {path}"),
    "to_quarantine": ("隔離レコード: {path}", "quarantined records: {path}"),
    "to_store": (
        "ストアに保存: 新規 {stored} 件、既存のため省略 {duplicates} 件",
        "stored: {stored} new, {duplicates} already stored",
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
        Path | None, typer.Option("--data-dir", help="Data directory (database).")
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
    sink: EventSink
    if output is not None:
        sink = jsonl = JsonlSink(output)
        close = jsonl.close
    else:
        # no output file: straight into the store, through the same writer the store
        # consumer of `mamori up` uses (idempotent: a re-import stores nothing twice)
        from mamori.cli.core import open_database
        from mamori.cli.wiring.ingest import StoreEventSink

        db = open_database(settings)
        try:
            with db.session() as session:  # an unknown tenant fails before any work
                tenants.get_tenant_by_slug(session, slug=tenant)
        except MamoriError:
            db.dispose()
            raise
        sink = store_sink = StoreEventSink(db)

        def close() -> None:
            try:
                store_sink.close()
            finally:
                db.dispose()

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
        typer.echo(_t("to_store", lang, stored=store_sink.stored, duplicates=store_sink.duplicates))


def register(app: typer.Typer) -> None:
    app.command(
        "ingest", help="ログの取り込み / import log files; 'ingest parsers' lists parsers."
    )(ingest)


__all__ = ["register"]
