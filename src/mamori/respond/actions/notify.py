"""Send a notification about the incident (as a playbook action)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamori.respond.actions.base import Action, ActionContext, ActionResult, actions
from mamori.respond.errors import ActionError


@actions.register
class NotifyAction(Action):
    NAME = "notify"
    DESCRIPTION = "通知を送信する（メール・Webhook・チャット）"
    PARAMS = {"channel": False, "template": False, "lang": False, "to": False}
    DEFAULT_APPROVAL = "auto"

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        if ctx.deps.notify is None:
            raise ActionError("no notification channels are configured")
        outcome = ctx.deps.notify(ctx.incident, dict(params))
        if outcome is None:
            # Nobody to tell (no channel, or none that wants this severity): say so on the
            # timeline rather than claim a message went out.
            channel = str(params.get("channel") or "soc")
            return ActionResult(
                ok=True,
                message=f"通知先がないため送信していません（{channel}）",
                detail={"delivered": False, "channel": channel, "reason": "no channel"},
            )
        status = getattr(outcome, "status", "delivered")
        if status != "delivered":
            errors = getattr(outcome, "errors", [])
            raise ActionError(f"notification not delivered: {errors[-1] if errors else status}")
        return ActionResult(
            ok=True, message="通知を送信", detail={"delivery_id": getattr(outcome, "id", None)}
        )
