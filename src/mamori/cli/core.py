"""Foundation commands: ``up``, ``db upgrade``, ``tenant``, ``user``, ``audit verify``."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from mamori.config import Settings
from mamori.errors import ConfigError, MamoriError, ValidationError
from mamori.store.db import Database
from mamori.store.passwords import make_hasher
from mamori.store.repos import audit, tenants, users
from mamori.store.tables import Role
from mamori.store.tables.core import DEFAULT_RETENTION_DAYS

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants (customer organisations).", no_args_is_help=True)
user_app = typer.Typer(help="Users and passwords.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def load_settings(**overrides: object) -> Settings:
    """Settings from environment/TOML plus explicit overrides, or a one-line ConfigError."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise ConfigError(f"invalid setting {where}: {first.get('msg', exc)}") from None


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Open (and by default migrate) the database, or raise a one-line ConfigError."""
    if settings.is_sqlite and not settings.database_url:
        settings.ensure_data_dir()
    db = Database(settings)
    try:
        if migrate:
            db.upgrade()
        else:
            db.check()
    except BaseException:
        db.dispose()
        raise
    return db


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    db = open_database(settings or load_settings())
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def read_new_password(password_stdin: bool) -> str:
    """One line from stdin, or an interactive hidden prompt with confirmation."""
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValidationError("no password on standard input")
        return password
    password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    return str(password)


# --- up ------------------------------------------------------------------------------


def up(
    host: Annotated[str | None, typer.Option("--host", help="Listen address.")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Listen port.")
    ] = None,
) -> None:
    """Start mamori: web UI/API and background services in one process (Ctrl+C stops)."""
    from mamori.cli.runtime import bind_socket, ensure_admin, serve

    settings = load_settings(host=host, port=port)
    settings.ensure_data_dir()
    settings.ensure_secret_key()
    sock = bind_socket(settings.host, settings.port)
    try:
        db = open_database(settings)
        try:
            generated = ensure_admin(settings, db)
            if generated is not None:
                typer.echo(
                    f"Created administrator {settings.admin_username!r}"
                    f" with password: {generated}\n"
                    "This password is shown only once; change it after logging in."
                )
            bound = sock.getsockname()
            typer.echo(f"mamori listening on http://{bound[0]}:{bound[1]}", err=True)
            asyncio.run(serve(settings, db=db, sock=sock))
        finally:
            db.dispose()
    finally:
        sock.close()


def worker() -> None:
    """Run the bus consumers only (parsing, storage, detection, response): scale-out mode.

    Start several on other machines with ``MAMORI_BUS_URL=nats://...`` and
    ``MAMORI_DATABASE_URL=postgresql://...`` next to one ``mamori up``.
    """
    from mamori.cli.runtime import work

    settings = load_settings()
    settings.ensure_data_dir()
    settings.ensure_secret_key()
    db = open_database(settings)
    try:

        def ready() -> None:
            typer.echo(f"mamori worker consuming from {settings.bus_url}", err=True)

        asyncio.run(work(settings, db=db, on_ready=ready))
    finally:
        db.dispose()


# --- db ------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from mamori.store.db import current_revisions

    settings = load_settings()
    db = open_database(settings)
    try:
        revs = ", ".join(sorted(current_revisions(db.engine)))
        typer.echo(f"database is at {revs}")
    finally:
        db.dispose()


# --- tenant --------------------------------------------------------------------------


@tenant_app.command("add")
def tenant_add(
    slug: Annotated[str, typer.Argument(help="Short id: lowercase letters, digits, hyphens.")],
    name: Annotated[str, typer.Argument(help="Display name, e.g. 株式会社サンプル部品.")],
    retention_days: Annotated[
        int, typer.Option(min=1, help="Days to keep logs.")
    ] = DEFAULT_RETENTION_DAYS,
) -> None:
    """Add a tenant."""
    with session_scope() as session:
        tenant = tenants.create_tenant(session, slug=slug, name=name, retention_days=retention_days)
        audit.record(
            session,
            action="tenant.create",
            actor=cli_actor(),
            tenant_id=tenant.id,
            target=f"tenant:{tenant.id}",
            detail={"slug": slug, "name": tenant.name},
        )
        typer.echo(f"tenant {tenant.slug} created (id {tenant.id})")


@tenant_app.command("list")
def tenant_list() -> None:
    """List tenants."""
    with session_scope() as session:
        table = Table("id", "slug", "name", "retention", "active")
        for t in tenants.list_tenants(session):
            table.add_row(
                str(t.id), t.slug, t.name, f"{t.retention_days}d", "yes" if t.active else "no"
            )
        Console(width=200).print(table)


# --- user ----------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[
        str, typer.Option(help="operator | admin | customer_admin | customer_viewer")
    ] = Role.CUSTOMER_VIEWER.value,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant slug (customer roles; operators: assigned).")
    ] = None,
    display_name: Annotated[str, typer.Option(help="Name shown in the UI.")] = "",
    language: Annotated[str, typer.Option(help="ja or en.")] = "ja",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Add a user (the password is prompted for, or read from stdin)."""
    settings = load_settings()
    parsed = users.parse_role(role)
    password = read_new_password(password_stdin)
    with session_scope(settings) as session:
        tenant_id = None
        assigned: list[int] = []
        if tenant is not None:
            t = tenants.get_tenant_by_slug(session, slug=tenant)
            if parsed is Role.OPERATOR:
                assigned = [t.id]
            elif parsed.is_customer:
                tenant_id = t.id
            else:
                raise ValidationError("an admin sees every tenant; do not pass --tenant")
        user = users.create_user(
            session,
            username=username,
            password=password,
            role=parsed,
            tenant_id=tenant_id,
            display_name=display_name,
            language=language,
            assigned_tenant_ids=assigned,
            hasher=make_hasher(settings),
        )
        audit.record(
            session,
            action="user.create",
            actor=cli_actor(),
            tenant_id=tenant_id,
            target=f"user:{user.id}",
            detail={"username": username, "role": parsed.value},
        )
        typer.echo(f"user {username} created (id {user.id}, {parsed.value})")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    with session_scope() as session:
        table = Table("id", "username", "role", "tenant", "active", "locked until")
        for u in users.list_users(session):
            tenant = u.tenant.slug if u.tenant else ",".join(t.slug for t in u.assigned_tenants)
            locked = u.locked_until.strftime("%Y-%m-%d %H:%M UTC") if u.locked_until else ""
            table.add_row(
                str(u.id), u.username, u.role, tenant, "yes" if u.active else "no", locked
            )
        Console(width=200).print(table)


@user_app.command("passwd")
def user_passwd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from stdin.")
    ] = False,
) -> None:
    """Set a user's password (prompted for, or read from stdin); also unlocks the user."""
    settings = load_settings()
    with session_scope(settings) as session:
        user = users.get_user_by_username(session, username=username)
        password = read_new_password(password_stdin)
        users.set_password(session, user=user, password=password, hasher=make_hasher(settings))
        audit.record(
            session,
            action="user.password",
            actor=cli_actor(),
            tenant_id=user.tenant_id,
            target=f"user:{user.id}",
        )
        typer.echo(f"password of {username} changed")


@user_app.command("unlock")
def user_unlock(username: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Lift a login lock before it expires."""
    with session_scope() as session:
        user = users.get_user_by_username(session, username=username)
        users.unlock(session, user=user)
        audit.record(
            session,
            action="user.unlock",
            actor=cli_actor(),
            tenant_id=user.tenant_id,
            target=f"user:{user.id}",
        )
        typer.echo(f"{username} unlocked")


# --- audit ---------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain; exit 1 at the first entry that does not fit."""
    with session_scope() as session:
        result = audit.verify(session)
    if not result.ok:
        where = f"entry {result.broken_seq}" if result.broken_seq is not None else "the log"
        raise MamoriError(f"audit log broken at {where}: {result.reason}")
    typer.echo(f"audit log intact: {result.checked} entries verified")


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("worker")(worker)
    app.add_typer(db_app, name="db")
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")


__all__ = ["load_settings", "open_database", "register", "session_scope"]
