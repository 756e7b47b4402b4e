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
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from foundation_db import B_MARKER, World
from mamori.service.inputs import QuoteInputs
from mamori.service.onboarding import Inquiry
from mamori.store.repos import service as service_repo
from tests.integration.web.respond_fixtures import (
    tenant_b_channel,
    tenant_b_command_id,
    tenant_b_incident,
)


@dataclass(frozen=True)
class Probe:
    json: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    refused: bool = True  # False: the route acts on the caller only
    note: str = ""
    extra_ok: frozenset[int] = field(default_factory=frozenset)


PathParam = Callable[[World, Session], str]

B_EVIDENCE = b"%PDF-1.4\n% tenant B evidence " + B_MARKER.encode() + b"\n"


def guideline_b_assessment(w: World, s: Session) -> str:
    """Tenant B's guideline assessment (with one answer and one evidence file), made once."""
    from mamori.guideline import load_builtin
    from mamori.guideline.service import GuidelineService
    from mamori.store.repos import guideline as repo

    existing = repo.list_assessment_rows(s, tenant_ids=[w.tenant_b.id])
    if existing:
        return existing[0].id
    service = GuidelineService(repo.SqlAssessmentRepository(s), repo.SqlEvidenceBlobs(s))
    slug = w.tenant_b.slug
    a = service.create(tenant=slug, framework=load_builtin("jama-japia"), title=f"{B_MARKER} 評価")
    service.answer(tenant=slug, assessment_id=a.id, item_id="1", status="一部対策", actor="b")
    service.upload_evidence(
        tenant=slug, assessment_id=a.id, item_id="1", stream=B_EVIDENCE, filename="b.pdf"
    )
    s.commit()
    return a.id


def guideline_b_evidence(w: World, s: Session) -> str:
    import hashlib

    guideline_b_assessment(w, s)
    return hashlib.sha256(B_EVIDENCE).hexdigest()


BodyFactory = Callable[[World], Probe]


def _b_quote(w: World, s: Session) -> str:
    row = service_repo.create_quote(
        s,
        inputs=QuoteInputs("endpoint", 5),
        issue_date=date.today(),
        customer=f"{B_MARKER} 御中",
        actor="fixture",
        tenant_id=w.tenant_b.id,
    )
    s.commit()
    return str(row.id)


def _b_case(w: World, s: Session) -> str:
    inquiry = Inquiry(f"{B_MARKER} 工業", "担当", "b@example.jp", "相談")
    row = service_repo.open_case(s, inquiry=inquiry, actor="fixture")
    row.tenant_id = w.tenant_b.id  # a case of a provisioned tenant follows its isolation
    s.commit()
    return str(row.id)


def _b_quarantine_item(w: World, s: Session) -> str:
    """A quarantined object of tenant B in the app's quarantine store (scan area)."""
    from pathlib import Path

    from foundation_db import make_settings
    from mamori.scan.quarantine import QuarantineStore

    url = s.get_bind().url
    settings = make_settings(Path(str(url.database)).parent, str(url))
    store = QuarantineStore.from_settings(settings)
    for item in store.list(tenant=w.tenant_b.slug):
        if item.status == "quarantined":
            return item.id
    return store.put(b"tenant B content", name="b.bin", tenant=w.tenant_b.slug, kind="file").id


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
    "quote_id": _b_quote,
    "case_id": _b_case,
    "assessment_id": guideline_b_assessment,
    "item_id": lambda _w, _s: "1",
    "label": lambda _w, _s: "1",
    "sha256": guideline_b_evidence,
    "quarantine_id": _b_quarantine_item,
    "incident_id": tenant_b_incident,
    "channel_id": tenant_b_channel,
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
    # service: computations touch no tenant; quotes/cases made here are prospects (no tenant)
    ("POST", "/api/v1/service/quote"): lambda _w: Probe(
        json={"course": "endpoint", "devices": 5}, refused=False, note="staff compute; 403 else"
    ),
    ("POST", "/api/v1/service/insurance"): lambda _w: Probe(
        json={"devices": 3, "claim": {"damages": 100000}}, refused=False
    ),
    ("POST", "/api/v1/service/quotes"): lambda w: Probe(
        json={"course": "endpoint", "devices": 5, "customer": "x", "tenant_id": w.tenant_b.id}
    ),
    ("POST", "/service/insurance"): lambda _w: Probe(
        data={"devices": "3", "amount_damages": "100000"}, refused=False
    ),
    ("POST", "/service/quotes"): lambda w: Probe(
        data={
            "course": "endpoint",
            "devices": "5",
            "customer": "x",
            "tenant_id": str(w.tenant_b.id),
        }
    ),
    # the onboarding case API: a valid body, so that tenant B's case is refused (404)
    ("POST", "/api/v1/service/cases/{case_id}/meeting"): lambda _w: Probe(
        json={
            "held_on": date.today().isoformat(),
            "attendees": ["op"],
            "notes": "meeting",
            "devices": 5,
        }
    ),
    ("POST", "/api/v1/service/cases/{case_id}/contract"): lambda _w: Probe(
        json={
            "signed_on": date.today().isoformat(),
            "start_date": date.today().isoformat(),
            "devices": 5,
        }
    ),
    ("POST", "/api/v1/service/cases/{case_id}/cancel"): lambda _w: Probe(json={"reason": "probe"}),
    ("POST", "/service/cases"): lambda _w: Probe(
        data={
            "company": "見込み客",
            "contact_name": "担当",
            "email": "p@example.jp",
            "message": "相談",
        },
        refused=False,
    ),
    ("POST", "/api/v1/guideline/assessments"): lambda w: Probe(
        json={"tenant_id": w.tenant_b.id, "title": B_MARKER}
    ),
    ("POST", "/guideline"): lambda w: Probe(
        data={"tenant_id": str(w.tenant_b.id), "title": B_MARKER}
    ),
    ("POST", "/api/v1/guideline/meti"): lambda w: Probe(
        data={"tenant_id": str(w.tenant_b.id), "title": B_MARKER}
    ),
    ("POST", "/guideline/meti"): lambda w: Probe(
        data={"tenant_id": str(w.tenant_b.id), "title": B_MARKER}
    ),
    ("POST", "/api/v1/guideline/target-level"): lambda _w: Probe(
        json={"answers": {"handles_confidential": True}},
        refused=False,
        note="computes a level, stores nothing",
    ),
    ("POST", "/api/v1/agent/commands/result"): lambda w: Probe(
        json={"command_id": tenant_b_command_id(w), "ok": True, "result": {}},
        refused=False,
        note="agent keys only; a foreign command is 404 (see test_web_respond.py)",
    ),
    ("POST", "/api/v1/notification-channels"): lambda w: Probe(
        json={
            "tenant": w.tenant_b.slug,
            "name": B_MARKER,
            "kind": "email",
            "recipients": ["x@example.jp"],
        }
    ),
    ("POST", "/respond/channels"): lambda w: Probe(
        data={
            "tenant": w.tenant_b.slug,
            "name": B_MARKER,
            "kind": "email",
            "recipients": "x@example.jp",
        }
    ),
    ("PATCH", "/api/v1/notification-channels/{channel_id}"): lambda _w: Probe(
        json={"name": "renamed"}
    ),
    ("POST", "/api/v1/hosts"): lambda w: Probe(
        json={"tenant": w.tenant_b.slug, "host": f"{B_MARKER}-pc"}
    ),
    ("POST", "/respond/hosts"): lambda w: Probe(
        data={"tenant": w.tenant_b.slug, "host": f"{B_MARKER}-pc"}
    ),
}
