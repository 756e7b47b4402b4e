"""The navigation bar, as data.

Each entry names a path, a catalogue key for its label and the roles that see it. An entry
is shown only when the app has a GET route at its path, so the places later areas will
fill (detection, incidents, guideline, logs, scans, services) appear by themselves as soon
as an area adds its page; an area with a different path appends its own :class:`NavItem`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mamori.store.tables import Role

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.OPERATOR})


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str  # stable id, also used to mark the active entry
    label: str  # i18n catalogue key
    path: str
    roles: frozenset[Role] = ALL_ROLES
    order: int = 100


NAV_ITEMS: list[NavItem] = [
    NavItem("dashboard", "nav.dashboard", "/", order=0),
    NavItem("alerts", "nav.alerts", "/alerts", order=10),
    NavItem("incidents", "nav.incidents", "/incidents", order=20),
    NavItem("guideline", "nav.guideline", "/guideline", order=30),
    NavItem("logs", "nav.logs", "/logs", order=40),
    NavItem(
        "scans",
        "nav.scans",
        "/scans",
        frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN}),
        order=50,
    ),
    NavItem("service", "nav.service", "/service", order=60),
    NavItem("tenants", "nav.tenants", "/tenants", STAFF, order=80),
    NavItem(
        "users",
        "nav.users",
        "/users",
        frozenset({Role.ADMIN, Role.CUSTOMER_ADMIN}),
        order=90,
    ),
    NavItem(
        "audit",
        "nav.audit",
        "/audit",
        frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN}),
        order=97,
    ),
    NavItem("notify_channels", "nav.notify_channels", "/respond/channels", order=25),
    NavItem("hosts", "nav.hosts", "/respond/hosts", order=26),
    NavItem(
        "api_keys",
        "nav.api_keys",
        "/api-keys",
        frozenset({Role.ADMIN, Role.OPERATOR, Role.CUSTOMER_ADMIN}),
        order=95,
    ),
]


def visible_items(
    role: Role, existing_paths: Iterable[str], items: Iterable[NavItem] | None = None
) -> list[NavItem]:
    """Entries this role may see whose page exists, in order."""
    paths = set(existing_paths)
    chosen = [
        item
        for item in (NAV_ITEMS if items is None else items)
        if role in item.roles and item.path in paths
    ]
    return sorted(chosen, key=lambda item: (item.order, item.key))


__all__ = ["NAV_ITEMS", "NavItem", "visible_items"]
