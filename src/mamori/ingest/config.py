"""Configuration of log collection: listeners, sender mapping, named sources, bus.

Read from the ``[mamori.ingest]`` (or ``[ingest]``) table of the mamori TOML file, or
built in code. Example::

    [mamori.ingest.bus]
    url = "embedded"            # or "nats://10.0.0.5:4222"
    max_bytes = 1073741824

    [mamori.ingest.syslog]
    udp_port = 514
    tcp_port = 601
    tls_port = 6514
    tls_cert = "/etc/mamori/syslog.pem"
    tls_key = "/etc/mamori/syslog.key"
    tls_client_ca = "/etc/mamori/clients-ca.pem"
    default_tenant = "acme"     # omit to refuse unknown senders

    [[mamori.ingest.syslog.senders]]
    network = "10.1.0.0/16"
    tenant = "acme"
    source = "fortigate"        # a named source below, or a parser name

    [[mamori.ingest.syslog.senders]]
    cn = "*.beta.example.jp"    # TLS client certificate CN (glob)
    tenant = "beta"

    [mamori.ingest.sources.fortigate]
    parser = "utm_kv"
    options = { timezone = "Asia/Tokyo" }

    [mamori.ingest.sources.nas]
    parser = "json_lines"
    options = { mapping = { "evt.user" = "user" }, host_field = "device.name" }
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from mamori.errors import ConfigError, NotFoundError
from mamori.ingest.parsers import parsers


class SourceConfig(BaseModel):
    """A named source: which parser reads it, with which options."""

    parser: str
    options: dict[str, Any] = Field(default_factory=dict)


class SenderRule(BaseModel):
    """Maps a sender (IP network or TLS client-certificate CN) to a tenant and host."""

    network: str | None = None
    cn: str | None = None
    tenant: str
    host: str | None = None
    source: str | None = None

    @field_validator("network")
    @classmethod
    def _valid_network(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an IP network: {value!r}") from exc
        return value

    def matches(self, ip: str | None, cn: str | None) -> bool:
        if self.cn is not None:
            return cn is not None and fnmatch.fnmatchcase(cn, self.cn)
        if self.network is not None and ip:
            try:
                return ipaddress.ip_address(ip) in ipaddress.ip_network(self.network, strict=False)
            except ValueError:
                return False
        return False


class SyslogConfig(BaseModel):
    """The syslog listener. A port of ``None`` disables that transport; 0 picks a free one."""

    bind: str = "0.0.0.0"  # noqa: S104 - a syslog server listens on the network by design
    udp_port: int | None = Field(default=None, ge=0, le=65535)
    tcp_port: int | None = Field(default=None, ge=0, le=65535)
    tls_port: int | None = Field(default=None, ge=0, le=65535)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tls_require_client_cert: bool = False
    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    idle_timeout: float = Field(default=300.0, gt=0)
    max_connections: int = Field(default=1000, gt=0)
    udp_queue: int = Field(default=10_000, gt=0)
    default_tenant: str | None = None
    default_source: str = "syslog"
    senders: list[SenderRule] = Field(default_factory=list)

    def resolve(self, ip: str | None, cn: str | None) -> SenderRule | None:
        """The rule for a sender: CN rules first, then networks, then the default tenant."""
        for rule in sorted(self.senders, key=lambda r: r.cn is None):
            if rule.matches(ip, cn):
                return rule
        if self.default_tenant is not None:
            return SenderRule(tenant=self.default_tenant)
        return None


class BusConfig(BaseModel):
    url: str = "embedded"
    max_bytes: int = Field(default=1 << 30, gt=0)
    fsync: str = "always"


class IngestConfig(BaseModel):
    """Everything log collection needs; see the module docstring for the TOML form."""

    bus: BusConfig = Field(default_factory=BusConfig)
    syslog: SyslogConfig = Field(default_factory=SyslogConfig)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    parser_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def source(self, name: str) -> SourceConfig:
        """The parser and options of a named source; a bare parser name also works.

        Raises:
            NotFoundError: neither a configured source nor a registered parser.
        """
        if name in self.sources:
            found = self.sources[name]
            base = dict(self.parser_options.get(found.parser, {}))
            base.update(found.options)
            return SourceConfig(parser=found.parser, options=base)
        if name in parsers:
            return SourceConfig(parser=name, options=dict(self.parser_options.get(name, {})))
        known = ", ".join(sorted(set(self.sources) | set(parsers.names())))
        raise NotFoundError(f"unknown source {name!r} (known: {known})")

    @classmethod
    def load(cls, path: Path | None = None) -> IngestConfig:
        """Read ``[mamori.ingest]`` from ``path`` (default: ``$MAMORI_CONFIG`` or ``mamori.toml``).

        Without a file, the defaults apply.

        Raises:
            ConfigError: unreadable TOML or invalid values (with the reason).
        """
        if path is None:
            named = os.environ.get("MAMORI_CONFIG")
            path = Path(named) if named else Path("mamori.toml")
            if not named and not path.exists():
                return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        section = data.get("mamori", data).get("ingest", data.get("ingest", {}))
        try:
            return cls.model_validate(section)
        except ValidationError as exc:
            raise ConfigError(f"{path}: invalid [mamori.ingest] settings: {exc}") from exc


__all__ = ["BusConfig", "IngestConfig", "SenderRule", "SourceConfig", "SyslogConfig"]
