"""One router per resource. Adding a resource is one module and one line in ROUTER_MODULES.

Each module exposes ``router`` (an ``APIRouter`` whose routes carry full paths: JSON API
under ``/api/v1``, pages at the top level with ``include_in_schema=False``).

Adding a resource ``things`` touches:

* ``store/tables/<area>.py`` (+ one import in ``tables/__init__.py``) and one migration
  (``store.db.generate_revision``), ``store/repos/things.py`` (keyword-only functions);
* ``web/schemas/things.py`` (ThingCreate/ThingUpdate/ThingPublic) and
  ``web/routers/things.py``; every route depends on ``TenantScopeDep`` (or
  ``require_key(purpose)`` for machine intake) and reports objects of other tenants as
  missing via ``scope.check(obj.tenant_id)`` / ``scope.ids_for(...)`` in queries;
* one line in :data:`ROUTER_MODULES`; a page gets a :class:`~mamori.web.nav.NavItem`
  (the reserved paths ``/alerts``, ``/incidents``, ``/guideline``, ``/logs``, ``/scans``,
  ``/service`` already have one), maybe a :class:`~mamori.web.dashboard.DashboardPanel`,
  and its texts in ``web/locales/{ja,en}/<area>.yaml``;
* ``tests/integration/web/route_fixtures.py``: a tenant-B fixture for each new path
  parameter and a body for each unsafe route without one. The route walker then checks
  the new routes for tenant isolation, authentication and CSRF tokens on every form.
"""

from __future__ import annotations

ROUTER_MODULES: tuple[str, ...] = (
    "mamori.web.routers.health",
    "mamori.web.routers.auth",
    "mamori.web.routers.ui",
    "mamori.web.routers.docs",
    "mamori.web.routers.me",
    "mamori.web.routers.tenants",
    "mamori.web.routers.users",
    "mamori.web.routers.apikeys",
    "mamori.web.routers.audit",
    "mamori.web.routers.service",
    "mamori.web.routers.service_ui",
    "mamori.web.routers.guideline",
    "mamori.web.routers.guideline_ui",
    "mamori.web.routers.quarantine",
    "mamori.web.routers.incidents",
    "mamori.web.routers.respond_channels",
    "mamori.web.routers.respond_hosts",
    "mamori.web.routers.alerts",
    "mamori.web.routers.agent_commands",
    "mamori.web.routers.ingest",
    "mamori.web.routers.logs",
)

#: Paths reachable without logging in. Everything else must refuse anonymous callers
#: (the test suite checks every route in the app against this list).
PUBLIC_PATHS: frozenset[str] = frozenset(
    {
        "/healthz",
        "/readyz",
        "/login",
        "/lang",
        # the service area's inquiry form (CSRF, signed time token, honeypot, rate limit)
        "/inquiry",
        # the service area's set-password page of an invitation (the one-time token is
        # the credential; CSRF-protected form)
        "/invite",
    }
)
PUBLIC_PREFIXES: tuple[str, ...] = ("/static", "/static-docs")

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIXES", "ROUTER_MODULES"]
