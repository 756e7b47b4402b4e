"""Stop a process on a host (by PID, optionally checked against its image path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mamori.respond.actions._endpoint import send_command
from mamori.respond.actions.base import Action, ActionContext, ActionResult, actions, host_param
from mamori.respond.commands import CommandKind
from mamori.respond.errors import ActionError


@actions.register
class KillProcessAction(Action):
    NAME = "kill_process"
    DESCRIPTION = "端末上のプロセスを停止する"
    PARAMS = {"host": False, "pid": False, "image": False, "wait": False, "ttl": False}

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        host = host_param(ctx, params)
        pid, image = params.get("pid"), params.get("image")
        if pid is None and not image:
            raise ActionError("kill_process needs a pid or an image path")
        args: dict[str, Any] = {}
        if pid is not None:
            try:
                args["pid"] = int(pid)
            except (TypeError, ValueError):
                raise ActionError(f"kill_process: pid must be a number, not {pid!r}") from None
        if image:
            args["image"] = str(image)
        return send_command(ctx, CommandKind.KILL_PROCESS, host, args, params)
