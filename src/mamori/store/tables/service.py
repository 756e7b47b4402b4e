"""Service tables: onboarding cases, issued quotes (gap-free numbers per year), contracts.

A case starts as a prospect's inquiry with no tenant; provisioning links it (and its quote
and contract) to the tenant it created. Rows linked to a tenant follow tenant isolation;
prospect rows (``tenant_id`` NULL) are the staff's shared sales pipeline.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mamori.store.tables.base import Base
from mamori.store.types import UTCDateTime, utcnow


class QuoteCounter(Base):
    """The last quote sequence issued per calendar year (one row per year).

    A number is taken by incrementing this row inside the transaction that stores the quote,
    so a rolled-back quote gives its number back and the sequence stays gap-free.
    """

    __tablename__ = "service_quote_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("last_seq >= 0", name="last_seq_non_negative"),)


class OnboardingCaseRow(Base):
    """One prospect's way from inquiry to a provisioned tenant; each step's data as JSON."""

    __tablename__ = "service_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    stage: Mapped[str] = mapped_column(String(20), index=True)
    company: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(50), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    devices_hint: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="web-form")
    source_ip: Mapped[str] = mapped_column(String(64), default="")
    meeting: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the current quote and the contract (plain ids: quotes and contracts point back at the
    # case with a foreign key, and a cycle of keys would complicate creation on PostgreSQL)
    quote_id: Mapped[int | None] = mapped_column(Integer)
    contract_id: Mapped[int | None] = mapped_column(Integer)
    provisioning: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    admin_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "stage IN ('inquiry', 'meeting', 'proposal', 'quote', 'contract', 'provisioning',"
            " 'provisioned', 'cancelled')",
            name="stage_known",
        ),
    )


class QuoteRow(Base):
    """An issued quote: its number, dates, the inputs it was computed from and the figures.

    The PDF is not stored; it is rendered again from the inputs, which must give the same
    figures (the repository checks this).
    """

    __tablename__ = "service_quotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    issue_date: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    customer: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200), default="mamori")
    course: Mapped[str] = mapped_column(String(40))
    devices: Mapped[int] = mapped_column(Integer)
    months: Mapped[int] = mapped_column(Integer)
    campaign: Mapped[bool] = mapped_column(Boolean, default=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    price_book_version: Mapped[str] = mapped_column(String(40))
    fees_total: Mapped[int] = mapped_column(Integer)
    tax: Mapped[int] = mapped_column(Integer)
    tax_included_total: Mapped[int] = mapped_column(Integer)
    subsidy: Mapped[int] = mapped_column(Integer)
    customer_pays_tax_included: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_cases.id", ondelete="SET NULL"), index=True
    )
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("year", "seq", name="uq_service_quotes_year_seq"),
        CheckConstraint("devices > 0", name="devices_positive"),
        CheckConstraint("months > 0", name="months_positive"),
    )


class ContractRow(Base):
    """A signed contract: start date, term, devices (licences), the quote it accepts."""

    __tablename__ = "service_contracts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_cases.id", ondelete="SET NULL"), index=True
    )
    quote_id: Mapped[int] = mapped_column(ForeignKey("service_quotes.id", ondelete="RESTRICT"))
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    customer: Mapped[str] = mapped_column(String(200))
    course: Mapped[str] = mapped_column(String(40))
    devices: Mapped[int] = mapped_column(Integer)
    signed_on: Mapped[date] = mapped_column(Date)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    term_months: Mapped[int] = mapped_column(Integer)
    grant_decision_date: Mapped[date | None] = mapped_column(Date)
    subsidy_warning: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("devices > 0", name="devices_positive"),
        CheckConstraint("term_months > 0", name="term_positive"),
        CheckConstraint("end_date >= start_date", name="end_after_start"),
    )


__all__ = ["ContractRow", "OnboardingCaseRow", "QuoteCounter", "QuoteRow"]


class InvitationRow(Base):
    """A one-time, expiring link for a new administrator to choose a password.

    Only the SHA-256 of the token is stored; the token itself is in the e-mail alone. A
    token works once (``used_at``) and until ``expires_at``; a newer invitation of the same
    user revokes older unused ones (``revoked_at``).
    """

    __tablename__ = "service_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("service_cases.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="ja")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
