"""``mamori scan``, ``mamori mail-filter``, ``mamori icap`` and ``mamori quarantine``.

Thin wrappers over :mod:`mamori.scan`. ``scan`` exits 0 when everything is clean, 1 when
anything is not (blocked, quarantined or error), 2 on bad usage.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from mamori.bus.base import BusError
from mamori.cli.wiring.scan import (
    BusVerdictSink,
    StoreAuditSink,
    has_database,
    is_configured,
    quarantine_store,
)
from mamori.config import Settings
from mamori.errors import ConfigError, MamoriError
from mamori.hooks import AuditRecorded
from mamori.model import Event
from mamori.scan.base import ScanOptions
from mamori.scan.engine import ScanEngine, error_verdict
from mamori.scan.events import verdict_event
from mamori.scan.policy import PolicySet
from mamori.scan.verdict import Outcome, Verdict

RulesOpt = Annotated[
    list[Path] | None, typer.Option("--rules", help="YARA rule folder (repeatable).")
]
NoBuiltinOpt = Annotated[
    bool, typer.Option("--no-builtin-rules", help="Do not load mamori's bundled YARA rules.")
]
ClamdOpt = Annotated[
    str | None, typer.Option("--clamd", help="clamd address: unix:/path or host:port.")
]
HashesOpt = Annotated[
    list[Path] | None, typer.Option("--hashes", help="File of known-bad hashes (repeatable).")
]
PolicyDirOpt = Annotated[
    Path | None, typer.Option("--policy-dir", help="Folder of per-tenant policy YAML files.")
]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Tenant whose policy applies.")]
EventsOpt = Annotated[
    Path | None,
    typer.Option(help="Append verdict events to this JSON-lines file (instead of the bus)."),
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (bus spool, quarantine).")
]


def _engine(
    rules: list[Path] | None,
    no_builtin: bool,
    clamd: str | None,
    hashes: list[Path] | None,
    policy_dir: Path | None,
) -> ScanEngine:
    options = ScanOptions(
        yara_rule_dirs=tuple(rules or ()),
        builtin_rules=not no_builtin,
        clamd=clamd,
        hash_files=tuple(hashes or ()),
    )
    return ScanEngine.from_options(options, PolicySet(policy_dir))


def _address(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    if not port.isdigit():
        raise ConfigError(f"invalid address {value!r} (host:port)")
    return host.strip("[]") or "127.0.0.1", int(port)


class JsonLines:
    """Appends records to a JSON-lines file (``--events FILE``, and the quarantine audit
    when there is no database)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def event(self, event: Event) -> None:
        self.write(event.to_dict())

    def audit(self, record: AuditRecorded) -> None:
        self.write(
            {"action": record.action, "actor": record.actor, "tenant": record.tenant}
            | {"detail": record.detail}
        )


def _event_sink(
    settings: Settings, events: Path | None, *, batch: int
) -> tuple[Callable[[Event], None] | None, Callable[[], None]]:
    """Where verdict events go: ``--events FILE`` (JSON lines), else the bus when the data
    directory is configured (see :func:`mamori.cli.wiring.scan.is_configured`), else nowhere.
    Returns the callback and the function that flushes and closes it."""
    if events is not None:
        return JsonLines(events).event, lambda: None
    if is_configured(settings):
        try:
            sink = BusVerdictSink(settings, batch=batch)
        except BusError as exc:  # e.g. the spool belongs to a running `mamori up`
            typer.echo(f"warning: verdict events not published: {exc}", err=True)
            return None, lambda: None
        return sink.event, sink.close
    return None, lambda: None


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        else:
            out.append(path)
    return out


def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to scan.")],
    output_format: Annotated[
        str, typer.Option("--format", help="Output: text or json.", case_sensitive=False)
    ] = "text",
    lang: Annotated[str, typer.Option("--lang", help="Message language: ja or en.")] = "ja",
    rules: RulesOpt = None,
    no_builtin_rules: NoBuiltinOpt = False,
    clamd: ClamdOpt = None,
    hashes: HashesOpt = None,
    policy_dir: PolicyDirOpt = None,
    tenant: TenantOpt = None,
    password: Annotated[
        list[str] | None, typer.Option("--password", help="Archive password to try (repeatable).")
    ] = None,
    events: EventsOpt = None,
    data_dir: DataDirOpt = None,
    bus: Annotated[
        bool,
        typer.Option(help="Publish verdict events on the bus of a configured data directory."),
    ] = True,
) -> None:
    """Scan files: one verdict per file; exit 1 if anything is not clean.

    Verdict events go to ``--events FILE``, or onto the bus (``mamori.events.<tenant>.scan``)
    when the data directory was set up by ``mamori up`` (or the bus is NATS).
    """
    if output_format.lower() not in ("text", "json"):
        raise typer.BadParameter("--format must be text or json")
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    engine = _engine(rules, no_builtin_rules, clamd, hashes, policy_dir)
    policy = engine.policies.for_tenant(tenant)
    verdicts: list[Verdict] = []
    on_event, close = (
        _event_sink(settings, events, batch=200) if bus or events else (None, lambda: None)
    )
    host = socket.gethostname()
    try:
        for path in _files(paths):
            try:
                if password:
                    data = path.read_bytes()
                    verdict = engine.scan_bytes(
                        data, name=str(path), policy=policy, passwords=password
                    )
                else:
                    verdict = engine.scan_path(path, tenant=tenant)
            except (OSError, MamoriError) as exc:
                verdict = error_verdict(str(exc), policy, name=str(path))
            verdicts.append(verdict)
            if on_event is not None:
                on_event(
                    verdict_event(
                        verdict,
                        source="scan:cli",
                        tenant=tenant,
                        host=host,
                        context={"file.path": str(path.resolve()), "scan.action": "scan"},
                    )
                )
    finally:
        close()
    if output_format.lower() == "json":
        summary = {o.value: sum(v.outcome is o for v in verdicts) for o in Outcome}
        typer.echo(
            json.dumps(
                {"verdicts": [v.to_dict() for v in verdicts], "summary": summary},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for verdict in verdicts:
            line = f"{verdict.outcome.value:<12} {verdict.name}"
            if verdict.reasons:
                line += f"  — {verdict.summary(lang)}"
            typer.echo(line)
    if any(not v.clean for v in verdicts):
        raise typer.Exit(1)


def mail_filter_command(
    listen: Annotated[str, typer.Option(help="Listen on host:port.")] = "127.0.0.1:10025",
    next_hop: Annotated[str, typer.Option(help="Next hop SMTP host:port.")] = "127.0.0.1:10026",
    hostname: Annotated[str, typer.Option(help="Name in the greeting and notices.")] = "",
    max_size: Annotated[int, typer.Option(help="Message size limit in bytes.")] = 25 * 2**20,
    max_recipients: Annotated[int, typer.Option(help="Recipients per message.")] = 100,
    max_connections: Annotated[int, typer.Option(help="Concurrent connections.")] = 50,
    tls_cert: Annotated[Path | None, typer.Option(help="STARTTLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="STARTTLS private key (PEM).")] = None,
    require_starttls: Annotated[bool, typer.Option(help="Refuse mail before STARTTLS.")] = False,
    admin: Annotated[
        list[str] | None, typer.Option("--admin", help="Admin address for notices (repeatable).")
    ] = None,
    events: EventsOpt = None,
    tenant_domain: Annotated[
        list[str] | None,
        typer.Option(help="Recipient domain to tenant, DOMAIN=TENANT (repeatable)."),
    ] = None,
    rules: RulesOpt = None,
    no_builtin_rules: NoBuiltinOpt = False,
    clamd: ClamdOpt = None,
    hashes: HashesOpt = None,
    policy_dir: PolicyDirOpt = None,
    tenant: TenantOpt = None,
) -> None:
    """Run the SMTP content filter in front of the next hop (Postfix after-queue filter)."""
    import socket

    from mamori.scan.mail.gateway import MailGateway, MailGatewayConfig
    from mamori.scan.mail.relay import NextHop
    from mamori.scan.runner import serve_forever

    domains: list[tuple[str, str]] = []
    for entry in tenant_domain or ():
        domain, sep, name_of_tenant = entry.partition("=")
        if not sep or not domain or not name_of_tenant:
            raise typer.BadParameter(f"--tenant-domain {entry!r}: expected DOMAIN=TENANT")
        domains.append((domain.strip(), name_of_tenant.strip()))
    settings = Settings()
    host, port = _address(listen, 10025)
    hop_host, hop_port = _address(next_hop, 25)
    name = hostname or socket.getfqdn()
    engine = _engine(rules, no_builtin_rules, clamd, hashes, policy_dir)
    with ExitStack() as stack:
        on_event, close = _event_sink(settings, events, batch=1)
        stack.callback(close)
        audit = _audit(settings, stack, "mamori:mail")
        gateway = MailGateway.from_settings(
            settings,
            engine,
            MailGatewayConfig(
                host=host,
                port=port,
                next_hop=NextHop(host=hop_host, port=hop_port, helo=name),
                hostname=name,
                tenant=tenant,
                tenant_domains=tuple(domains),
                max_message_bytes=max_size,
                max_recipients=max_recipients,
                max_connections=max_connections,
                tls_cert=tls_cert,
                tls_key=tls_key,
                require_starttls=require_starttls,
                admin_addresses=tuple(admin or ()),
            ),
            on_event=on_event,
            audit=audit,
        )
        typer.echo(f"mamori mail filter: {host}:{port} -> {hop_host}:{hop_port}", err=True)
        serve_forever(gateway)


def _audit(settings: Settings, stack: ExitStack, actor: str) -> Callable[[AuditRecorded], None]:
    """Quarantine audit into the database when there is one, else the JSON-lines file."""
    if has_database(settings):
        from mamori.cli.core import open_database

        db = open_database(settings)
        stack.callback(db.dispose)
        return StoreAuditSink(db, default_actor=actor)
    return JsonLines(settings.ensure_data_dir() / "quarantine-audit.jsonl").audit


def icap_command(
    listen: Annotated[str, typer.Option(help="Listen on host:port.")] = "127.0.0.1:1344",
    on_error: Annotated[
        str, typer.Option(help="When a scanner is down: block, error (ICAP 500) or allow.")
    ] = "block",
    name_checks: Annotated[
        bool, typer.Option(help="Apply the attachment policy's name checks to downloads.")
    ] = False,
    contact: Annotated[str, typer.Option(help="Contact shown on the block page.")] = "",
    buffer_bytes: Annotated[
        int,
        typer.Option(
            min=0,
            help="Hold bodies up to this size until scanned and stream bigger ones (blocked"
            " ones end as an aborted transfer); 0 = the whole body up to the scan limit.",
        ),
    ] = 0,
    stall_seconds: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds without download data before the answer streams anyway (Squid 5"
            " without the delay pool of --squid-conf); 0 = wait.",
        ),
    ] = 10.0,
    preview: Annotated[
        int | None,
        typer.Option(min=0, help="Preview size to advertise in OPTIONS (default: none)."),
    ] = None,
    squid_conf: Annotated[
        bool,
        typer.Option(
            "--squid-conf",
            help="Print the squid.conf lines for this server (ICAP services and the delay"
            " pool Squid 5 needs) and exit.",
        ),
    ] = False,
    events: EventsOpt = None,
    rules: RulesOpt = None,
    no_builtin_rules: NoBuiltinOpt = False,
    clamd: ClamdOpt = None,
    hashes: HashesOpt = None,
    policy_dir: PolicyDirOpt = None,
    tenant: TenantOpt = None,
) -> None:
    """Run the ICAP server (services /respmod and /reqmod) for Squid."""
    from mamori.scan.quarantine import QuarantineStore
    from mamori.scan.runner import serve_forever
    from mamori.scan.web.icap import IcapConfig, IcapServer

    if on_error not in ("block", "error", "allow"):
        raise typer.BadParameter("--on-error must be block, error or allow")
    host, port = _address(listen, 1344)
    if squid_conf:
        from mamori.scan.web.squid import squid_conf as conf_lines

        typer.echo(conf_lines(host, port), nl=False)
        return
    settings = Settings()
    engine = _engine(rules, no_builtin_rules, clamd, hashes, policy_dir)
    with ExitStack() as stack:
        on_event, close = _event_sink(settings, events, batch=1)
        stack.callback(close)
        store = QuarantineStore.from_settings(
            settings, audit=_audit(settings, stack, "mamori:icap")
        )
        server = IcapServer(
            engine,
            IcapConfig(
                host=host,
                port=port,
                tenant=tenant,
                on_error=on_error,  # type: ignore[arg-type]
                name_checks=name_checks,
                contact=contact,
                buffer_bytes=buffer_bytes,
                stall_timeout=stall_seconds,
                preview=preview,
            ),
            on_event=on_event,
            quarantine=store,
        )
        typer.echo(f"mamori ICAP server: icap://{host}:{port}/respmod and /reqmod", err=True)
        serve_forever(server)


quarantine_app = typer.Typer(help="Quarantined content: list, show, get, release, delete.")
ActorOpt = Annotated[str | None, typer.Option(help="Who acts (audited); default cli:<login name>.")]


def _actor(actor: str | None) -> str:
    from mamori.cli.core import cli_actor

    return actor or cli_actor()


@quarantine_app.command("list")
def quarantine_list(
    tenant: TenantOpt = None,
    status: Annotated[str | None, typer.Option(help="Only items with this status.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many items (default: all).")
    ] = None,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many newest items.")] = 0,
) -> None:
    """List quarantined items, newest first."""
    with quarantine_store(Settings()) as store:
        items = store.list(tenant=tenant, status=status, limit=limit, offset=offset)
    if output_format == "json":
        typer.echo(json.dumps([i.to_dict() for i in items], ensure_ascii=False, indent=2))
        return
    for item in items:
        typer.echo(f"{item.id}  {item.status:<11} {item.kind:<4} {item.tenant or '-'}  {item.name}")


@quarantine_app.command("reindex")
def quarantine_reindex() -> None:
    """Rebuild the list index from the items' metadata files."""
    with quarantine_store(Settings()) as store:
        count = store.rebuild_index()
    typer.echo(f"{count} items indexed")


@quarantine_app.command("show")
def quarantine_show(item_id: str) -> None:
    """Show one item's metadata and verdict."""
    with quarantine_store(Settings()) as store:
        item = store.get(item_id)
    typer.echo(json.dumps(item.to_dict(), ensure_ascii=False, indent=2))


@quarantine_app.command("get")
def quarantine_get(
    item_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the content here.")],
    actor: ActorOpt = None,
) -> None:
    """Decrypt an item's content to a file (audited)."""
    with quarantine_store(Settings()) as store:
        data = store.content(item_id, actor=_actor(actor))
    output.write_bytes(data)
    typer.echo(f"{len(data)} bytes -> {output}", err=True)


@quarantine_app.command("release")
def quarantine_release(
    item_id: str,
    actor: ActorOpt = None,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    next_hop: Annotated[
        str | None, typer.Option(help="Deliver a released mail to this SMTP host:port.")
    ] = None,
) -> None:
    """Release an item; a mail item is delivered to its recipients through --next-hop."""
    from mamori.scan.mail.relay import NextHop

    who = _actor(actor)
    with quarantine_store(Settings()) as store:
        item = store.get(item_id)
        if item.kind == "mail":
            if not next_hop:
                raise typer.BadParameter("a mail item needs --next-hop to be delivered")
            host, port = _address(next_hop, 25)
            data = store.content(item_id)
            result = NextHop(host=host, port=port).send(
                str(item.meta.get("mail_from", "")), [str(r) for r in item.meta["rcpt_tos"]], data
            )
            if not result.ok:
                typer.echo(f"error: delivery failed: {result.reply()}", err=True)
                raise typer.Exit(1)
            store.set_status(item_id, "released", actor=who, note=note)
        else:
            store.release(item_id, actor=who, note=note)
    typer.echo(f"released {item_id}", err=True)


@quarantine_app.command("delete")
def quarantine_delete(
    item_id: str,
    actor: ActorOpt = None,
    note: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Destroy an item's content (the record stays)."""
    with quarantine_store(Settings()) as store:
        store.delete(item_id, actor=_actor(actor), note=note)
    typer.echo(f"deleted {item_id}", err=True)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)
    app.command("mail-filter")(mail_filter_command)
    app.command("icap")(icap_command)
    app.add_typer(quarantine_app, name="quarantine")


__all__ = ["register"]
