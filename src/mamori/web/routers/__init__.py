"""One router per resource. Adding a resource is one module and one line in ROUTER_MODULES.

Each module exposes ``router`` (an ``APIRouter`` whose routes carry full paths: JSON API
under ``/api/v1``, pages at the top level with ``include_in_schema=False``).
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
)

#: Paths reachable without logging in. Everything else must refuse anonymous callers
#: (the test suite checks every route in the app against this list).
PUBLIC_PATHS: frozenset[str] = frozenset({"/healthz", "/readyz", "/login", "/lang"})
PUBLIC_PREFIXES: tuple[str, ...] = ("/static",)

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIXES", "ROUTER_MODULES"]
