"""Disable a user account through the customer's directory webhook (signed JSON POST)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mamori.respond.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    DirectoryWebhook,
    actions,
)
from mamori.respond.errors import ActionError, NotifyError
from mamori.respond.notify.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    encode,
    post_json,
    sign,
)


def _call(ctx: ActionContext, hook: DirectoryWebhook, op: str, user: str) -> None:
    body = encode(
        {
            "action": op,
            "user": user,
            "tenant": ctx.tenant,
            "incident_id": ctx.incident.id,
            "requested_by": ctx.actor.name,
        }
    )
    ts = str(int(time.time()))
    try:
        post_json(
            hook.url,
            body,
            {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(hook.secret, ts, body)},
            transport=ctx.deps.http_transport,
            timeout=hook.timeout,
        )
    except NotifyError as exc:
        raise ActionError(f"directory webhook: {exc}") from None


@actions.register
class DisableAccountAction(Action):
    NAME = "disable_account"
    DESCRIPTION = "ディレクトリ（AD等）のアカウントを無効化する"
    PARAMS = {"user": False}
    REVERSIBLE = True

    def _hook(self, ctx: ActionContext) -> DirectoryWebhook:
        hook = ctx.deps.directories.get(ctx.tenant)
        if hook is None:
            raise ActionError(f"tenant {ctx.tenant} has no directory webhook configured")
        return hook

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        user = params.get("user") or (ctx.incident.users[0] if ctx.incident.users else None)
        if not user:
            raise ActionError("disable_account: no user given and the incident has none")
        _call(ctx, self._hook(ctx), "disable", str(user))
        return ActionResult(
            ok=True, message=f"アカウント {user} を無効化", rollback={"user": str(user)}
        )

    def rollback(self, ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        _call(ctx, self._hook(ctx), "enable", str(data["user"]))
        return ActionResult(ok=True, message=f"アカウント {data['user']} を再有効化")
