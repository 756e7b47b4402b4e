"""The response-action protocol and registry.

Writing an action: subclass :class:`Action`, set ``NAME`` (snake_case, unique),
``DESCRIPTION`` and ``PARAMS`` (parameter name -> required?), implement :meth:`Action.run`
returning an :class:`ActionResult` (raise :class:`~mamori.respond.errors.ActionError` or
any exception on failure — the runner records it), and, if the action can be undone, set
``REVERSIBLE = True`` and implement :meth:`Action.rollback`. Decorate with
``@actions.register`` and add the module to the import list in ``actions/__init__.py``.
Actions never talk to storage directly: what they need comes in :class:`ActionDeps`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from mamori.registry import Registry
from mamori.respond.blocklist import BlocklistRepo
from mamori.respond.commands import CommandQueue
from mamori.respond.errors import ActionError
from mamori.respond.models import Actor, Incident


@dataclass(frozen=True, slots=True)
class DirectoryWebhook:
    """Where ``disable_account`` posts (the customer's directory connector)."""

    url: str
    secret: str
    timeout: float = 10.0


@dataclass(slots=True)
class ActionDeps:
    """Everything an action may use; missing pieces make the action fail clearly."""

    commands: CommandQueue | None = None
    blocklist: BlocklistRepo | None = None
    directories: Mapping[str, DirectoryWebhook] = field(default_factory=dict)
    notify: Callable[[Incident, dict[str, Any]], Any] | None = None
    http_transport: httpx.BaseTransport | None = None

    def need_commands(self) -> CommandQueue:
        if self.commands is None:
            raise ActionError("no endpoint command queue is configured")
        return self.commands

    def need_blocklist(self) -> BlocklistRepo:
        if self.blocklist is None:
            raise ActionError("no blocklist is configured")
        return self.blocklist


@dataclass(frozen=True, slots=True)
class ActionContext:
    incident: Incident
    actor: Actor
    now: datetime
    deps: ActionDeps
    action_id: str = ""

    @property
    def tenant(self) -> str:
        return self.incident.tenant


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    rollback: dict[str, Any] | None = None  # what rollback() needs to undo this


class Action(ABC):
    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, bool]] = {}
    REVERSIBLE: ClassVar[bool] = False
    #: approval when neither the playbook step nor the tenant policy says otherwise
    DEFAULT_APPROVAL: ClassVar[str] = "manual"

    def check_params(self, params: Mapping[str, Any]) -> list[str]:
        """Problems with ``params`` (unknown or missing names); empty when fine."""
        problems = [
            f"{self.NAME}: unknown parameter {name!r} (known: {', '.join(self.PARAMS) or 'none'})"
            for name in params
            if name not in self.PARAMS
        ]
        problems += [
            f"{self.NAME}: missing parameter {name!r}"
            for name, required in self.PARAMS.items()
            if required and name not in params
        ]
        return problems

    @abstractmethod
    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult: ...

    def rollback(self, ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:  # noqa: ARG002
        raise ActionError(f"{self.NAME} cannot be rolled back")


actions: Registry[type[Action]] = Registry("action", entry_point_group="mamori.actions")


def host_param(ctx: ActionContext, params: Mapping[str, Any]) -> str:
    host = params.get("host") or (ctx.incident.hosts[0] if ctx.incident.hosts else None)
    if not host or not isinstance(host, str):
        raise ActionError("no host given and the incident has none")
    if host.lower() not in ctx.incident.hosts:
        raise ActionError(f"host {host} is not part of incident {ctx.incident.id}")
    return host.lower()


__all__ = [
    "Action",
    "ActionContext",
    "ActionDeps",
    "ActionResult",
    "DirectoryWebhook",
    "actions",
    "host_param",
]
