"""Log collection tables: stored events and quarantined records.

``events`` holds normalised events (one row per event id and tenant, so a replayed
delivery is stored once); ``quarantined_records`` keeps what no parser could read, with
the reason and the raw bytes, so nothing received is silently lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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

#: Integer primary keys that may grow past 2**31 on PostgreSQL (SQLite's rowid is 64-bit).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class StoredEvent(Base):
    """One normalised event of one tenant (DESIGN.md's Event, flattened into columns)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    host: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(100), default="")
    data_type: Mapped[str] = mapped_column(String(100), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", name="uq_events_tenant_event"),
        Index("ix_events_tenant_ts", "tenant_id", "ts"),
        Index("ix_events_tenant_host_ts", "tenant_id", "host", "ts"),
        Index("ix_events_ts", "ts"),
    )

    def __repr__(self) -> str:
        return f"StoredEvent(id={self.id!r}, tenant_id={self.tenant_id!r}, source={self.source!r})"


class QuarantinedRecord(Base):
    """A record no parser could read, kept with its reason and raw bytes.

    ``tenant_id`` is empty when the record named a tenant that does not exist (only
    administrators see those). ``record_key`` identifies the record across redeliveries.
    """

    __tablename__ = "quarantined_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    record_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    location: Mapped[str] = mapped_column(Text, default="")
    tenant_label: Mapped[str] = mapped_column(String(100), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_quarantined_records_tenant_received", "tenant_id", "received_at"),)


__all__ = ["QuarantinedRecord", "StoredEvent"]
