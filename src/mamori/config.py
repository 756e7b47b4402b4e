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
    max_request_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Largest HTTP request body (413 above)"
    )
    bus_url: str = Field(
        default="embedded", description="'embedded' (on-disk spool) or nats://host:port,..."
    )
    bus_max_bytes: int = Field(default=1 << 30, gt=0, description="Spool/stream size limit")
    guideline_max_evidence_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="Largest guideline evidence file (bytes)"
    )
    detect_enabled: bool = Field(
        default=True,
        description="Run the detection consumer (Sigma rules over mamori.events.>) in up/worker",
    )
    rules_dirs: list[Path] = Field(
        default_factory=list,
        description=(
            "Extra Sigma rule folders for streaming detection, next to the bundled rules "
            "(env: JSON list, e.g. MAMORI_RULES_DIRS='[\"/srv/sigma/rules\"]')"
        ),
    )
    detect_placeholders: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Values of Sigma placeholders (%name% with the expand modifier) for streaming "
            "detection; rules whose placeholder has no value stay refused (env: JSON, e.g. "
            'MAMORI_DETECT_PLACEHOLDERS=\'{"admins": ["Administrator"]}\')'
        ),
    )
    detect_placeholders_file: Path | None = Field(
        default=None,
        description=(
            "YAML file mapping placeholder names to a value or a list of values; a name in "
            "detect_placeholders replaces the file's values"
        ),
    )
    fast_password_hashing: bool = Field(
        default=False,
        description="Cheap argon2 parameters; for the test suite only, never in production",
    )
    # -- scanning gateways (``mamori up`` runs them when enabled; off by default) ------------
    scan_mail_enabled: bool = Field(default=False, description="Run the SMTP content filter")
    scan_mail_host: str = Field(default="127.0.0.1", description="SMTP filter listen address")
    scan_mail_port: int = Field(default=10025, ge=0, le=65535, description="SMTP filter port")
    scan_mail_next_hop: str = Field(
        default="127.0.0.1:10026", description="host:port the filter relays clean mail to"
    )
    scan_mail_hostname: str = Field(default="", description="Greeting name; default the FQDN")
    scan_mail_max_bytes: int = Field(default=25 * 1024 * 1024, gt=0, description="Size limit")
    scan_mail_max_recipients: int = Field(default=100, gt=0)
    scan_mail_max_connections: int = Field(default=50, gt=0)
    scan_mail_tenant: str = Field(default="", description="Tenant (slug) of unmapped mail")
    scan_mail_tenant_domains: dict[str, str] = Field(
        default_factory=dict, description="Recipient domain -> tenant slug"
    )
    scan_mail_admins: list[str] = Field(
        default_factory=list, description="Admin addresses notified of quarantined mail"
    )
    scan_mail_tls_cert: Path | None = Field(default=None, description="STARTTLS cert (PEM)")
    scan_mail_tls_key: Path | None = Field(default=None, description="STARTTLS key (PEM)")
    scan_mail_require_starttls: bool = False
    scan_icap_enabled: bool = Field(default=False, description="Run the ICAP server for Squid")
    scan_icap_host: str = Field(default="127.0.0.1", description="ICAP listen address")
    scan_icap_port: int = Field(default=1344, ge=0, le=65535, description="ICAP port")
    scan_icap_tenant: str = Field(default="", description="Tenant (slug) of the web traffic")
    scan_icap_on_error: str = Field(
        default="block", description="Scanner down: block (page), error (ICAP 500) or allow"
    )
    scan_icap_max_connections: int = Field(default=100, gt=0)
    scan_icap_buffer_bytes: int = Field(
        default=0,
        ge=0,
        description="Hold bodies up to this size until scanned, stream bigger ones (an"
        " aborted transfer when blocked); 0 = the whole body up to the scan limit",
    )
    scan_icap_stall_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Seconds without download data before the ICAP answer streams anyway"
        " (a Squid 5 without the delay pool of `mamori icap --squid-conf`); 0 = wait",
    )
    scan_policy_dir: Path | None = Field(default=None, description="Per-tenant policy YAML")
    scan_rule_dirs: list[Path] = Field(default_factory=list, description="User YARA folders")
    scan_clamd: str = Field(default="", description="clamd address (unix:/path or host:port)")
    scan_hash_files: list[Path] = Field(default_factory=list, description="Hash IOC files")
    # -- response (incidents, notifications); notifications are off until configured --
    respond_enabled: bool = Field(
        default=True, description="Run the alert consumer (durable 'respond') and SLA ticks"
    )
    respond_tick_seconds: float = Field(
        default=30.0, gt=0, description="How often SLA clocks, pages and reminders are checked"
    )
    respond_base_url: str = Field(default="", description="Public URL for links in messages")
    respond_sla_file: Path | None = Field(default=None, description="SLA contracts YAML")
    respond_oncall_file: Path | None = Field(default=None, description="On-call rota YAML")
    respond_smtp_host: str = Field(default="", description="SMTP server; empty = no e-mail")
    respond_smtp_port: int = Field(default=25, ge=1, le=65535)
    respond_smtp_from: str = Field(default="mamori@localhost", description="Sender address")
    respond_smtp_starttls: bool = False
    respond_smtp_username: str = ""
    respond_smtp_password: str = ""
    respond_soc_emails: str = Field(default="", description="SOC recipients, comma-separated")
    respond_webhook_urls: str = Field(
        default="", description="Generic JSON webhooks (HMAC-signed), comma-separated"
    )
    respond_webhook_secret: str = Field(default="", description="HMAC key of the webhooks")
    respond_chat_webhook_url: str = Field(
        default="", description="Slack/Teams-style incoming webhook URL"
    )
    respond_chat_style: str = Field(default="slack", description="'slack' or 'teams'")
    respond_notify_backoff: str = Field(
        default="1,2,4", description="Seconds between delivery retries, comma-separated"
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
    ingest_worker_processes: int = Field(
        default=1,
        ge=0,
        le=2,
        description="Child processes of mamori up / mamori worker that parse raw records and"
        " write events to the database, so the pipeline uses more than one CPU core: 0 (all"
        " in the main process), 1 (one for both) or 2 (one for parsing, one for writing)",
    )
    quarantine_retention_days: int = Field(
        default=180,
        gt=0,
        description="Days quarantined records that belong to no tenant (unknown tenant, a"
        " bus message no one could read) are kept before the retention job purges them",
    )
    # --- service (onboarding); invitations go through the respond_smtp_* relay ---
    service_invite_hours: int = Field(
        default=72,
        ge=1,
        le=720,
        description="Hours a new administrator's set-password link stays valid (used once);"
        " the e-mail goes through respond_smtp_host, links use respond_base_url",
    )

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("ja", "en"):
            raise ValueError("default_language must be 'ja' or 'en'")
        return value

    @field_validator("scan_icap_on_error")
    @classmethod
    def _known_on_error(cls, value: str) -> str:
        if value not in ("block", "error", "allow"):
            raise ValueError("scan_icap_on_error must be 'block', 'error' or 'allow'")
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
