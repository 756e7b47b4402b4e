"""All settings in one place: environment (``MAMORI_*``), an optional TOML file, defaults.

Libraries receive a :class:`Settings` instance; nothing reads the environment elsewhere.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mamori.errors import ConfigError

SECRET_FILE = "secret.key"  # noqa: S105 - a file name, not a secret


class Settings(BaseSettings):
    """mamori's configuration.

    Precedence: explicit arguments, then ``MAMORI_*`` environment variables, then the TOML
    file named by ``MAMORI_CONFIG`` (or ``./mamori.toml`` when present), then defaults.
    """

    model_config = SettingsConfigDict(env_prefix="MAMORI_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where state, spool and keys live")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data_dir")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    secret_key: str = Field(default="", description="Signs sessions; generated on first start")
    admin_password: str = Field(default="", description="First admin password; else generated")
    admin_username: str = "admin"
    default_language: str = "ja"
    behind_tls: bool = Field(default=False, description="Mark cookies Secure (TLS in front)")
    session_max_age: int = Field(default=8 * 3600, gt=0, description="Seconds a login lasts")
    login_max_failures: int = Field(default=5, gt=0)
    login_lock_minutes: int = Field(default=15, gt=0)
    debug: bool = False
    bus_url: str = Field(
        default="embedded", description="'embedded' (on-disk spool) or nats://host:port,..."
    )
    bus_max_bytes: int = Field(default=1 << 30, gt=0, description="Spool/stream size limit")
    fast_password_hashing: bool = Field(
        default=False,
        description="Cheap argon2 parameters; for the test suite only, never in production",
    )
    # --- log collection (issue 5); the syslog listener is off until a port is set ---
    syslog_bind: str = Field(default="0.0.0.0", description="Syslog listen address")  # noqa: S104
    syslog_udp_port: int | None = Field(default=None, ge=0, le=65535, description="Off if unset")
    syslog_tcp_port: int | None = Field(default=None, ge=0, le=65535, description="Off if unset")
    syslog_tls_port: int | None = Field(default=None, ge=0, le=65535, description="Off if unset")
    syslog_tls_cert: Path | None = Field(default=None, description="PEM certificate for TLS")
    syslog_tls_key: Path | None = Field(default=None, description="PEM key for TLS")
    syslog_tls_client_ca: Path | None = Field(
        default=None, description="CA of client certificates (CN -> tenant mapping)"
    )
    syslog_default_tenant: str | None = Field(
        default=None, description="Tenant slug of unmapped senders; unset refuses them"
    )
    syslog_senders: list[dict[str, str]] = Field(
        default_factory=list,
        description='Sender mapping, JSON: [{"network": "10.1.0.0/16", "tenant": "acme",'
        ' "host": "fw1", "source": "utm_kv"}] or {"cn": "*.acme.jp", ...}',
    )
    ingest_max_body_bytes: int = Field(
        default=32 * 1024 * 1024, gt=0, description="HTTP bulk intake limit (inflated bytes)"
    )
    ingest_high_water: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of bus_max_bytes above which collectors push back (HTTP intake"
        " answers 429, syslog TCP reading pauses); the rest is kept for the consumers",
    )
    retention_interval: float = Field(
        default=3600.0, ge=0, description="Seconds between retention purges; 0 switches off"
    )

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("ja", "en"):
            raise ValueError("default_language must be 'ja' or 'en'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mamori.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        """Create the data directory or fail with a one-line reason."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"data directory {self.data_dir} is not writable: {exc.strerror or exc}"
            ) from exc
        return self.data_dir

    def ensure_secret_key(self) -> str:
        """Return the secret key, generating and storing one (mode 0600) on first start."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / SECRET_FILE
        if path.exists():
            self.secret_key = path.read_text().strip()
        if not self.secret_key:
            key = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key)
            self.secret_key = key
        return self.secret_key


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``[mamori]`` (or top-level keys) from the TOML file, if there is one."""

    def _path(self) -> Path | None:
        named = os.environ.get("MAMORI_CONFIG")
        if named:
            return Path(named)
        default = Path("mamori.toml")
        return default if default.exists() else None

    def __call__(self) -> dict[str, Any]:
        path = self._path()
        if path is None:
            return {}
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        section = data.get("mamori", data)
        return dict(section) if isinstance(section, dict) else {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # noqa: ARG002
        return None, field_name, False


__all__ = ["Settings"]
