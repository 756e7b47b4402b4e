"""Engine, sessions and migrations for SQLite (embedded default) and PostgreSQL.

SQLite connections get WAL journaling, foreign keys and a busy timeout; PostgreSQL is
reached through psycopg 3 (``postgresql+psycopg://``). Migrations ship as package data
(``mamori/store/migrations``) and run programmatically; no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from mamori.config import Settings
from mamori.errors import ConfigError, ValidationError

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 5


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` / ``postgres://`` URLs."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(settings: Settings | str, **kwargs: Any) -> Engine:
    """Create the engine for ``settings`` (or a URL).

    Raises:
        ConfigError: the URL is malformed or names an engine mamori cannot drive.
    """
    url = settings if isinstance(settings, str) else settings.effective_database_url
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL is not valid: {exc}") from exc
    connect_args: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        connect_args["check_same_thread"] = False
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
    elif backend == "postgresql":
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    else:
        raise ConfigError(f"unsupported database {backend!r} (use sqlite or postgresql)")
    try:
        engine = create_engine(
            parsed, connect_args=connect_args, pool_pre_ping=True, future=True, **kwargs
        )
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"database driver missing: {exc}") from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def describe(engine: Engine) -> str:
    """The URL without password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def check_connection(engine: Engine) -> None:
    """Open a connection and run ``SELECT 1``.

    Raises:
        ConfigError: the database cannot be reached (one-line reason).
    """
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(f"cannot reach database {describe(engine)}: {reason}") from exc


class Database:
    """An engine and its session factory; what the web app and CLI pass around."""

    def __init__(self, settings: Settings | str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(settings, **engine_kwargs)
        self.sessionmaker = session_factory(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def check(self) -> None:
        check_connection(self.engine)

    def upgrade(self, revision: str = "heads") -> None:
        upgrade(self.engine, revision)

    def dispose(self) -> None:
        self.engine.dispose()


MIGRATIONS = "migrations"
FOUNDATION_BRANCH = "foundation"


def _alembic_config(engine: Engine, script_location: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    location = script_location or str(files("mamori.store") / MIGRATIONS)
    cfg.set_main_option("script_location", location)
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "heads", *, script_location: str | None = None) -> None:
    """Apply every migration (all areas' heads) up to ``revision``.

    Raises:
        ConfigError: the database cannot be reached.
    """
    from alembic import command

    check_connection(engine)
    command.upgrade(_alembic_config(engine, script_location), revision)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database is at (empty before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions(engine: Engine, *, script_location: str | None = None) -> set[str]:
    """The newest revision of every migration branch shipped with mamori."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(engine, script_location)
    return set(ScriptDirectory.from_config(cfg).get_heads())


def generate_revision(*, area: str, message: str, script_location: str | None = None) -> Path:
    """Write a migration for ``area``'s new or changed tables (a developer tool).

    The models are compared with a scratch SQLite database migrated to every head, so the
    migration holds only what no migration creates yet. An area's first migration starts
    its own branch off the foundation (``branch_labels=(area,)``); later ones extend it.

    Raises:
        ValidationError: a bad area name, or the models need no migration.
    """
    import re
    import tempfile

    from alembic import command
    from alembic.script import ScriptDirectory

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", area):
        raise ValidationError(f"area {area!r} must be a short snake_case name")
    with tempfile.TemporaryDirectory(prefix="mamori-rev-") as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        try:
            cfg = _alembic_config(engine, script_location)
            command.upgrade(cfg, "heads")
            script = ScriptDirectory.from_config(cfg)
            labels = {label for rev in script.walk_revisions() for label in rev.branch_labels}
            existing = [r for r in script.walk_revisions() if r.revision.startswith(area + "_")]
            number = len(existing) + 1
            rev_id = f"{area}_{number:04d}"
            slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
            kwargs: dict[str, Any] = {"rev_id": rev_id, "message": f"{area}: {message}"}
            if area in labels:
                kwargs["head"] = f"{area}@head"
            else:
                foundation = sorted(
                    r.revision
                    for r in script.walk_revisions()
                    if r.revision.startswith(FOUNDATION_BRANCH + "_")
                )
                kwargs["head"] = foundation[-1]
                kwargs["splice"] = True
                kwargs["branch_label"] = area
            captured: list[Any] = []

            def _keep(context: Any, revision: Any, directives: list[Any]) -> None:
                del context, revision
                if directives[0].upgrade_ops.is_empty():
                    directives[:] = []
                else:
                    captured.append(directives[0])

            command.revision(cfg, autogenerate=True, process_revision_directives=_keep, **kwargs)
            if not captured:
                raise ValidationError("the models match the migrations; nothing to generate")
            script = ScriptDirectory.from_config(cfg)
            generated = script.get_revision(rev_id)
            assert generated is not None and generated.path is not None  # noqa: S101
            path = Path(generated.path)
            target = path.with_name(f"{rev_id}_{slug}.py")
            path.rename(target)
            return target
        finally:
            engine.dispose()


__all__ = [
    "Database",
    "check_connection",
    "current_revisions",
    "generate_revision",
    "head_revisions",
    "make_engine",
    "normalise_url",
    "session_factory",
    "upgrade",
]
