"""SQL host inventory (``respond_hosts``): one row per tenant and host.

:meth:`SqlHostInventory.seen` is one conditional ``UPDATE`` for a known host; a new host is
an ``INSERT`` under the unique (tenant, host) constraint, so when two workers see a new
host at once one inserts (and flags the alert as from an unknown host) and the other
updates the row it made.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.exc import IntegrityError

from mamori.errors import NotFoundError, ValidationError
from mamori.model import utc
from mamori.respond.errors import ConflictError
from mamori.respond.hosts import HostRecord, normalise_host
from mamori.store.db import Database
from mamori.store.repos.respond import _tenant_id
from mamori.store.tables import Tenant
from mamori.store.tables.respond import RespondHost


def _record(row: RespondHost) -> HostRecord:
    return HostRecord(
        tenant=row.tenant,
        host=row.host,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        alert_count=row.alert_count,
        source="manual" if row.source == "manual" else "alert",
        last_incident_id=row.last_incident_id,
    )


class SqlHostInventory:
    """Implements :class:`mamori.respond.hosts.HostInventory`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _bump(self, tenant: str, host: str, ts: datetime, incident_id: str | None) -> bool:
        values: dict[str, Any] = {
            "alert_count": RespondHost.alert_count + 1,
            "last_seen": case((RespondHost.last_seen < ts, ts), else_=RespondHost.last_seen),
            "first_seen": case((RespondHost.first_seen > ts, ts), else_=RespondHost.first_seen),
        }
        if incident_id is not None:
            values["last_incident_id"] = incident_id
        stmt = (
            update(RespondHost)
            .where(RespondHost.tenant == tenant, RespondHost.host == host)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with self.db.engine.begin() as conn:
            return bool(conn.execute(stmt).rowcount == 1)

    def knows(self, tenant: str, host: str) -> bool:
        stmt = select(RespondHost.id).where(
            RespondHost.tenant == tenant, RespondHost.host == host.lower()[:255]
        )
        with self.db.engine.connect() as conn:
            return conn.execute(stmt).first() is not None

    def seen(self, tenant: str, host: str, ts: datetime, incident_id: str | None = None) -> bool:
        ts = utc(ts)
        host = host.lower()[:255]
        for _ in range(3):
            if self._bump(tenant, host, ts, incident_id):
                return True
            try:
                with self.db.engine.begin() as conn:
                    tid = conn.execute(select(Tenant.id).where(Tenant.slug == tenant)).scalar()
                    if tid is None:
                        raise NotFoundError(f"tenant {tenant} not found")
                    conn.execute(
                        insert(RespondHost).values(
                            tenant_id=tid,
                            tenant=tenant,
                            host=host,
                            source="alert",
                            first_seen=ts,
                            last_seen=ts,
                            alert_count=1,
                            last_incident_id=incident_id,
                        )
                    )
                return False
            except IntegrityError:
                continue  # another worker added it meanwhile: count on its row
        raise ConflictError(f"cannot record host {host} of {tenant}; retry")

    def register(self, tenant: str, host: str, now: datetime) -> HostRecord:
        """Add a host by hand. Raises ValidationError (bad name), NotFoundError (tenant)."""
        name = normalise_host(host)
        now = utc(now)
        find = select(RespondHost).where(RespondHost.tenant == tenant, RespondHost.host == name)
        for _ in range(3):
            with self.db.session() as s:
                row = s.scalars(find).first()
                if row is not None:
                    return _record(row)
            try:
                with self.db.session() as s:
                    row = RespondHost(
                        tenant_id=_tenant_id(s, tenant),
                        tenant=tenant,
                        host=name,
                        source="manual",
                        first_seen=now,
                        last_seen=now,
                        alert_count=0,
                    )
                    s.add(row)
                    s.flush()
                    return _record(row)
            except IntegrityError:
                continue
        raise ValidationError(f"cannot register host {name}; retry")

    def list(self, *, tenant: str | None = None) -> builtins.list[HostRecord]:
        stmt = select(RespondHost).order_by(RespondHost.tenant, RespondHost.host)
        if tenant is not None:
            stmt = stmt.where(RespondHost.tenant == tenant)
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(stmt)]


__all__ = ["SqlHostInventory"]
