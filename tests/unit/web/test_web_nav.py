from __future__ import annotations

from mamori.store.tables import Role
from mamori.web.nav import NAV_ITEMS, NavItem, visible_items


def test_only_existing_pages_for_the_role_in_order():
    items = visible_items(Role.ADMIN, {"/", "/users", "/tenants", "/scans"})
    assert [i.key for i in items] == ["dashboard", "scans", "tenants", "users"]
    assert [i.key for i in visible_items(Role.CUSTOMER_VIEWER, {"/", "/users"})] == ["dashboard"]


def test_areas_add_entries_as_data():
    extra = [*NAV_ITEMS, NavItem("reports", "nav.reports", "/reports", order=70)]
    keys = [i.key for i in visible_items(Role.OPERATOR, {"/", "/reports"}, extra)]
    assert keys == ["dashboard", "reports"]


def test_placeholders_for_later_areas_are_declared():
    paths = {i.path for i in NAV_ITEMS}
    assert {"/alerts", "/incidents", "/guideline", "/logs", "/scans", "/service"} <= paths
