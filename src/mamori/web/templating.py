"""Jinja2 rendering with the i18n catalogue, CSRF token, navigation and tenant switcher."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.responses import Response

from mamori.web.deps import Principal, TenantScope, language_for
from mamori.web.i18n import LANGUAGES, default_catalogue
from mamori.web.nav import visible_items
from mamori.web.routes import iter_routes
from mamori.web.sessions import CSRF_FIELD, load_session, store_session

DISPLAY_ZONE = ZoneInfo("Asia/Tokyo")


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Show a stored (UTC) time in Japan time with its zone, as users read clocks."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(DISPLAY_ZONE)
    return f"{local.strftime(fmt)} {local.tzname()}"


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("mamori.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
    )
    env.filters["localtime"] = localtime
    return Jinja2Templates(env=env)


def _get_paths(request: Request) -> set[str]:
    cached = getattr(request.app.state, "get_paths", None)
    if isinstance(cached, frozenset):
        return set(cached)
    paths = frozenset(r.path for r in iter_routes(request.app.routes) if "GET" in r.methods)
    request.app.state.get_paths = paths
    return set(paths)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    scope: TenantScope | None = None,
    session: Session | None = None,
    status_code: int = 200,
    active: str = "",
) -> Response:
    """Render ``template`` with everything the base layout needs."""
    lang = language_for(request, principal)
    catalogue = default_catalogue()
    web_session = load_session(request)

    def t(key: str, **values: object) -> str:
        return catalogue.gettext(lang, key, **values)

    nav = visible_items(principal.role, _get_paths(request)) if principal else []
    switcher: list[Any] = []
    if scope is not None and session is not None and scope.principal.role.is_staff:
        from mamori.store.repos import tenants

        switcher = tenants.list_tenants(session, tenant_ids=scope.tenant_ids, active_only=True)
    ctx: dict[str, Any] = {
        "t": t,
        "lang": lang,
        "languages": LANGUAGES,
        "csrf_field": CSRF_FIELD,
        "csrf_token": web_session.csrf,
        "principal": principal,
        "scope": scope,
        "nav": nav,
        "active": active,
        "switcher": switcher,
    }
    ctx.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if web_session.fresh:
        store_session(request, response, web_session)
    return response


__all__ = ["make_templates", "render"]
