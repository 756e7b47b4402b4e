"""The tenants' own notification channels: ``/api/v1/notification-channels`` and the page
``/respond/channels``.

Staff (admins, operators for their tenants) and customer administrators manage the
channels of the tenants in their scope; customer viewers may read them; API keys read only.
A channel of a tenant outside the caller's scope is "not found" (404). Secrets (webhook HMAC
keys, chat webhook URLs) are write-only: a generated webhook secret is shown once, in the
answer to the request that created it, and never again; no answer or log shows it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import RedirectResponse, Response

from mamori.errors import MamoriError, NotFoundError, PermissionDeniedError, ValidationError
from mamori.model import Severity
from mamori.respond.channels import (
    CHAT_STYLES,
    KINDS,
    ChannelRepo,
    CustomerChannel,
    apply_changes,
    new_channel,
)
from mamori.respond.notify.templates import LANGUAGES
from mamori.web.deps import SessionDep, TenantScopeDep, audit_request
from mamori.web.respond_web import RespondContext, RespondDep
from mamori.web.templating import render

router = APIRouter(tags=["notification-channels"])

JsonBody = Annotated[dict[str, Any], Body()]
API = "/api/v1/notification-channels"
PAGE = "/respond/channels"


def _repo(ctx: RespondContext) -> ChannelRepo:
    repo = ctx.respond.channel_repo
    if repo is None:
        raise NotFoundError("notification channels are not available")
    return repo


def _target_tenant(ctx: RespondContext, tenant: Any) -> str:
    """The tenant a new channel belongs to: the one named (checked), else the current one."""
    if tenant is not None and not isinstance(tenant, str):
        raise ValidationError("tenant must be a tenant slug")
    chosen = ctx.tenant_filter(tenant or None)
    if chosen is None:
        raise ValidationError("name the tenant (tenant) the channel belongs to")
    return chosen


def _channel(ctx: RespondContext, channel_id: str) -> CustomerChannel:
    """The channel if its tenant is in the caller's scope; NotFoundError otherwise."""
    channel = _repo(ctx).get(channel_id)
    ctx.scope.check(ctx.ids.get(channel.tenant), "channel")
    return channel


def _audit(
    session: SessionDep,
    request: Request,
    ctx: RespondContext,
    action: str,
    channel: CustomerChannel,
) -> None:
    audit_request(
        session,
        request,
        ctx.scope.principal,
        action=f"notify_channel.{action}",
        tenant_id=ctx.ids.get(channel.tenant),
        target=f"notify_channel:{channel.id}",
        detail={"name": channel.name, "kind": channel.kind, "target": channel.target},
    )


def create_channel(ctx: RespondContext, data: dict[str, Any]) -> tuple[CustomerChannel, str | None]:
    """Check and store a new channel. Returns it and the secret to show once (a webhook
    secret mamori generated), else None."""
    tenant = _target_tenant(ctx, data.get("tenant"))
    ctx.writable()
    channel = new_channel(tenant, data, actor=ctx.actor.name, now=ctx.respond.clock())
    _repo(ctx).add(channel)
    generated = channel.kind == "webhook" and not str(data.get("secret") or "").strip()
    return channel, channel.secret if generated else None


def update_channel(ctx: RespondContext, channel_id: str, data: dict[str, Any]) -> CustomerChannel:
    channel = _channel(ctx, channel_id)
    ctx.writable()
    if "tenant" in data and data["tenant"] not in (None, "", channel.tenant):
        raise ValidationError("a channel cannot move to another tenant")
    changed = apply_changes(channel, {k: v for k, v in data.items() if k != "tenant"})
    changed.updated_at = ctx.respond.clock()
    _repo(ctx).save(changed)
    return changed


def delete_channel(ctx: RespondContext, channel_id: str) -> CustomerChannel:
    channel = _channel(ctx, channel_id)
    ctx.writable()
    _repo(ctx).delete(channel_id)
    return channel


def test_channel(ctx: RespondContext, channel_id: str) -> dict[str, Any]:
    """Send a test message; the delivery outcome (status, attempts, errors)."""
    channel = _channel(ctx, channel_id)
    ctx.writable()
    record = ctx.respond.test_channel(channel, ctx.actor.name)
    return {
        "delivery_id": record.id,
        "status": record.status,
        "attempts": record.attempts,
        "target": record.target,
        "errors": list(record.errors),
    }


def visible_channels(ctx: RespondContext, tenant: str | None) -> list[CustomerChannel]:
    chosen = ctx.tenant_filter(tenant)
    repo = _repo(ctx)
    if chosen is not None:
        return repo.list(tenant=chosen)
    allowed = set(ctx.visible_tenants())
    return [c for c in repo.list() if c.tenant in allowed]


# -- JSON API --------------------------------------------------------------------------------
@router.get(API)
def list_channels(
    ctx: RespondDep, tenant: Annotated[str | None, Query(max_length=63)] = None
) -> list[dict[str, Any]]:
    """The notification channels of the tenants in scope (never their secrets)."""
    return [c.public() for c in visible_channels(ctx, tenant)]


@router.post(API, status_code=201)
def post_channel(
    request: Request, session: SessionDep, ctx: RespondDep, body: JsonBody
) -> dict[str, Any]:
    """Create a channel: ``{tenant, name, kind: email|webhook|chat, lang: ja|en,
    min_severity, enabled, recipients (email), url (webhook, chat), secret (webhook,
    optional: generated and returned once as ``secret`` when left out), style: slack|teams}``."""
    channel, secret = create_channel(ctx, body)
    _audit(session, request, ctx, "created", channel)
    out = channel.public()
    if secret is not None:
        out["secret"] = secret
    return out


@router.get(API + "/{channel_id}")
def get_channel(ctx: RespondDep, channel_id: str) -> dict[str, Any]:
    return _channel(ctx, channel_id).public()


@router.patch(API + "/{channel_id}")
def patch_channel(
    request: Request, session: SessionDep, ctx: RespondDep, channel_id: str, body: JsonBody
) -> dict[str, Any]:
    """Change fields of a channel (a given ``secret`` replaces the stored one)."""
    channel = update_channel(ctx, channel_id, body)
    _audit(session, request, ctx, "changed", channel)
    return channel.public()


@router.post(API + "/{channel_id}/test")
def post_channel_test(ctx: RespondDep, channel_id: str) -> dict[str, Any]:
    """Send a test message to the channel now (with retries) and answer the outcome."""
    return test_channel(ctx, channel_id)


@router.delete(API + "/{channel_id}", status_code=204)
def remove_channel(
    request: Request, session: SessionDep, ctx: RespondDep, channel_id: str
) -> Response:
    channel = delete_channel(ctx, channel_id)
    _audit(session, request, ctx, "deleted", channel)
    return Response(status_code=204)


# -- pages -------------------------------------------------------------------------------------
def _page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondContext,
    *,
    tenant: str | None = None,
    error: str = "",
    secret: str | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    principal = scope.principal
    can_write = not principal.is_api_key and principal.role.value in (
        "admin",
        "operator",
        "customer_admin",
    )
    return render(
        request,
        "respond_channels.html",
        {
            "channels": [c.public() for c in visible_channels(ctx, tenant)],
            "tenants": ctx.visible_tenants(),
            "current": ctx.tenant_filter(tenant) or "",
            "kinds": KINDS,
            "styles": CHAT_STYLES,
            "languages": LANGUAGES,
            "severities": [s.value for s in Severity],
            "can_write": can_write,
            "error": error,
            "secret": secret,
            "notice": notice,
            "parse_ts": datetime.fromisoformat,
        },
        principal=principal,
        scope=scope,
        session=session,
        active="notify_channels",
        status_code=status_code,
    )


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    data.pop("csrf_token", None)
    if "enabled" not in data and data.get("enabled_present"):
        data["enabled"] = False
    data.pop("enabled_present", None)
    return data


@router.get(PAGE, include_in_schema=False)
def channels_page(
    request: Request,
    session: SessionDep,
    scope: TenantScopeDep,
    ctx: RespondDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
) -> Response:
    return _page(request, session, scope, ctx, tenant=tenant or None)


@router.post(PAGE, include_in_schema=False)
async def channels_create_form(
    request: Request, session: SessionDep, scope: TenantScopeDep, ctx: RespondDep
) -> Response:
    data = await _form(request)
    try:
        channel, secret = create_channel(ctx, data)
    except (NotFoundError, PermissionDeniedError):
        raise
    except MamoriError as exc:
        return _page(request, session, scope, ctx, error=str(exc), status_code=400)
    _audit(session, request, ctx, "created", channel)
    if secret is not None:  # shown once, on this answer only
        return _page(request, session, scope, ctx, tenant=channel.tenant, secret=secret)
    return RedirectResponse(f"{PAGE}?tenant={quote(channel.tenant)}", status_code=303)


@router.post(PAGE + "/{channel_id}", include_in_schema=False)
async def channel_form(
    request: Request, session: SessionDep, scope: TenantScopeDep, ctx: RespondDep, channel_id: str
) -> Response:
    """Change (``op=update``) or delete (``op=delete``) a channel."""
    data = await _form(request)
    op = str(data.pop("op", "update"))
    try:
        if op == "delete":
            channel = delete_channel(ctx, channel_id)
            _audit(session, request, ctx, "deleted", channel)
        elif op == "test":
            outcome = test_channel(ctx, channel_id)
            channel = _channel(ctx, channel_id)
            note = f"テスト送信: {channel.name} → {outcome['status']}" + (
                f"（{outcome['errors'][-1]}）" if outcome["errors"] else ""
            )
            return _page(request, session, scope, ctx, tenant=channel.tenant, notice=note)
        elif op == "update":
            channel = update_channel(ctx, channel_id, data)
            _audit(session, request, ctx, "changed", channel)
        else:
            _channel(ctx, channel_id)
            raise ValidationError(f"unknown operation {op!r}")
    except (NotFoundError, PermissionDeniedError):
        raise
    except MamoriError as exc:
        return _page(request, session, scope, ctx, error=str(exc), status_code=400)
    return RedirectResponse(f"{PAGE}?tenant={quote(channel.tenant)}", status_code=303)


__all__ = [
    "create_channel",
    "delete_channel",
    "router",
    "test_channel",
    "update_channel",
    "visible_channels",
]
