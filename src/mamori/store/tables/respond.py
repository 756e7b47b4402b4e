"""Response tables: incidents, alert records, actions, playbook runs, deliveries, pages,
breach tracks, the endpoint command queue, the C2 blocklist and attachment blobs.

Aggregates are kept as one JSON document (``doc``, the :mod:`mamori.respond.serialize` form)
next to the columns the queries filter on. ``respond_incidents.version`` is the optimistic
concurrency counter; ``respond_alerts.count`` is folded with one ``UPDATE ... count + 1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mamori.store.tables.base import Base
from mamori.store.types import UTCDateTime, utcnow


class RespondIncident(Base):
    __tablename__ = "respond_incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), index=True)
    assignee: Mapped[str | None] = mapped_column(String(150))
    merged_into: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondAlert(Base):
    __tablename__ = "respond_alerts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    rule_id: Mapped[str] = mapped_column(String(200), index=True)
    rule_title: Mapped[str] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(16))
    host: Mapped[str | None] = mapped_column(String(255))
    user: Mapped[str | None] = mapped_column(String(255))
    dedup_key: Mapped[str] = mapped_column(String(128), index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    unknown_host: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    sample: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: ``first_seen`` in whole dedup windows since the epoch: one row per key and bucket,
    #: enforced by the database, so two workers never both open a record for one duplicate
    dedup_bucket: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("uq_respond_alerts_dedup", "dedup_key", "dedup_bucket", unique=True),)


class RespondRejectedAlert(Base):
    __tablename__ = "respond_rejected_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondAction(Base):
    __tablename__ = "respond_actions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondPlaybookRun(Base):
    __tablename__ = "respond_playbook_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    playbook: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str] = mapped_column(String(63))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondDelivery(Base):
    __tablename__ = "respond_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondPage(Base):
    __tablename__ = "respond_pages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondBreachTrack(Base):
    __tablename__ = "respond_breach_tracks"

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class RespondCommand(Base):
    __tablename__ = "respond_commands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    host: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_respond_commands_tenant_host", "tenant", "host", "status"),)


class RespondBlockEntry(Base):
    __tablename__ = "respond_blocklist"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str | None] = mapped_column(String(63), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2000))
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(150))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_id: Mapped[str | None] = mapped_column(String(64))


class RespondBlob(Base):
    __tablename__ = "respond_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RespondHost(Base):
    """The per-tenant host inventory: hosts seen in alerts (or registered by hand)."""

    __tablename__ = "respond_hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(63))
    host: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="alert")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    last_incident_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("tenant", "host", name="uq_respond_hosts_tenant_host"),)


class RespondNotifyChannel(Base):
    """A tenant's own notification channel. ``secret_enc`` is the Fernet-encrypted secret
    (webhook HMAC key, chat incoming-webhook URL); it is never returned by the API."""

    __tablename__ = "respond_notify_channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8), default="ja")
    min_severity: Mapped[str] = mapped_column(String(16), default="medium")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_enc: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_respond_notify_channel_name"),)


__all__ = [
    "RespondAction",
    "RespondAlert",
    "RespondBlob",
    "RespondBlockEntry",
    "RespondBreachTrack",
    "RespondCommand",
    "RespondDelivery",
    "RespondHost",
    "RespondIncident",
    "RespondNotifyChannel",
    "RespondPage",
    "RespondPlaybookRun",
    "RespondRejectedAlert",
]
