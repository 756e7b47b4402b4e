"""What the route walker sends to reach into tenant B, per path parameter and per route.

When an area adds a route, the walker (``test_web_route_walker.py``) runs it automatically
and FAILS until the route's needs are registered here:

* a path parameter (``{alert_id}``) needs an entry in :data:`PATH_PARAMS` that returns the
  id of an object belonging to tenant B (create it from the ``world`` if needed);
* an unsafe route without path parameters (``POST /api/v1/things``) needs an entry in
  :data:`BODIES`: a request that tries to act on tenant B (expected to be refused), or a
  request that only touches the caller (``refused=False``; tenant B must then stay
  unchanged and unmentioned). Routes with path parameters need an entry only when an
  empty body fails validation, since a 422 never reaches the tenant check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from foundation_db import B_MARKER, World


@dataclass(frozen=True)
class Probe:
    json: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    refused: bool = True  # False: the route acts on the caller only
    note: str = ""
    extra_ok: frozenset[int] = field(default_factory=frozenset)


PathParam = Callable[[World, Session], str]
BodyFactory = Callable[[World], Probe]


def _tenant_b_event(world: World, session: Session) -> str:
    """A stored event of tenant B (its raw record names tenant B)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from mamori.store.repos import ingest
    from mamori.store.tables import StoredEvent

    ingest.insert_events(
        session,
        rows=[
            {
                "tenant_id": world.tenant_b.id,
                "event_id": f"{B_MARKER}-event",
                "ts": datetime(2026, 11, 25, tzinfo=UTC),
                "host": f"{B_MARKER}-host",
                "source": "syslog",
                "fields": {"user": B_MARKER},
                "raw": f"secret of {B_MARKER}",
            }
        ],
    )
    ingest.insert_quarantined(
        session,
        rows=[{"tenant_id": world.tenant_b.id, "record_key": B_MARKER, "raw": B_MARKER.encode()}],
    )
    session.commit()
    row = session.scalar(
        select(StoredEvent.id).where(
            StoredEvent.tenant_id == world.tenant_b.id, StoredEvent.event_id == f"{B_MARKER}-event"
        )
    )
    return str(row)


PATH_PARAMS: dict[str, PathParam] = {
    "source": lambda _w, _s: "json_lines",
    "log_id": _tenant_b_event,
    "tenant_id": lambda w, _s: str(w.tenant_b.id),
    "user_id": lambda w, _s: str(w.viewer_b.id),
    "key_id": lambda w, _s: str(w.keys["b-ingest"][0].id),
}

BODIES: dict[tuple[str, str], BodyFactory] = {
    ("POST", "/api/v1/tenants"): lambda _w: Probe(
        json={"slug": f"{B_MARKER}-new", "name": "x"}, note="only admins create tenants"
    ),
    ("POST", "/tenants"): lambda _w: Probe(data={"slug": f"{B_MARKER}-new", "name": "x"}),
    ("POST", "/api/v1/users"): lambda w: Probe(
        json={
            "username": f"{B_MARKER}-new",
            "password": "a-good-password-1",
            "role": "customer_admin",
            "tenant_id": w.tenant_b.id,
        }
    ),
    ("POST", "/users"): lambda w: Probe(
        data={
            "username": f"{B_MARKER}-new",
            "password": "a-good-password-1",
            "role": "customer_admin",
            "tenant_id": str(w.tenant_b.id),
        }
    ),
    ("POST", "/api/v1/api-keys"): lambda w: Probe(
        json={"tenant_id": w.tenant_b.id, "purpose": "ingest"}
    ),
    ("POST", "/api-keys"): lambda w: Probe(
        data={"tenant_id": str(w.tenant_b.id), "purpose": "ingest"}
    ),
    ("POST", "/tenant"): lambda w: Probe(data={"tenant_id": str(w.tenant_b.id)}),
    ("PATCH", "/api/v1/me"): lambda _w: Probe(
        json={"display_name": "me"}, refused=False, note="changes the caller only"
    ),
    ("POST", "/api/v1/me/password"): lambda _w: Probe(
        json={"current_password": "wrong-password-0", "new_password": "whatever-password-1"},
        refused=False,
        note="changes the caller only",
    ),
    # Routes with path parameters need a body only to get past request validation.
    ("PATCH", "/api/v1/tenants/{tenant_id}"): lambda _w: Probe(json={"name": "renamed"}),
    ("PATCH", "/api/v1/users/{user_id}"): lambda _w: Probe(json={"display_name": "renamed"}),
    ("POST", "/users/{user_id}"): lambda _w: Probe(
        data={"role": "customer_viewer", "display_name": "renamed", "language": "ja"}
    ),
    ("POST", "/logout"): lambda _w: Probe(data={}, refused=False, note="ends the caller's session"),
}
