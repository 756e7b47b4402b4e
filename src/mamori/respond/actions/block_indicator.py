"""Add indicators (IPs, domains, URLs, hashes) to the tenant's blocklist."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from mamori.errors import NotFoundError, ValidationError
from mamori.respond.actions.base import Action, ActionContext, ActionResult, actions
from mamori.respond.blocklist import IndicatorKind, new_entry
from mamori.respond.errors import ActionError
from mamori.respond.models import ObservableKind

_FROM_OBSERVABLE = {
    ObservableKind.IP: IndicatorKind.IP,
    ObservableKind.DOMAIN: IndicatorKind.DOMAIN,
    ObservableKind.HASH: IndicatorKind.HASH,
}


@actions.register
class BlockIndicatorAction(Action):
    NAME = "block_indicator"
    DESCRIPTION = "IOC（IP・ドメイン・URL・ハッシュ）をブロックリストに追加する"
    PARAMS = {
        "kind": False,
        "values": False,
        "from_observables": False,
        "hours": False,
        "reason": False,
    }
    REVERSIBLE = True
    DEFAULT_APPROVAL = "auto"

    def run(self, ctx: ActionContext, params: Mapping[str, Any]) -> ActionResult:
        repo = ctx.deps.need_blocklist()
        wanted: list[tuple[str, str]] = []
        values = params.get("values") or []
        if isinstance(values, str):
            values = [values]
        if values:
            kind = params.get("kind")
            if not kind:
                raise ActionError("block_indicator: values need a kind (ip, domain, url, hash)")
            wanted += [(str(kind), str(v)) for v in values]
        for name in params.get("from_observables") or []:
            try:
                okind = ObservableKind(name)
                ikind = _FROM_OBSERVABLE[okind]
            except (ValueError, KeyError):
                raise ActionError(
                    f"block_indicator: cannot block observables of kind {name!r}"
                ) from None
            wanted += [(ikind.value, v) for v in ctx.incident.observables_of(okind)]
        if not wanted:
            raise ActionError("block_indicator: nothing to block")
        hours = params.get("hours")
        expires = ctx.now + timedelta(hours=float(hours)) if hours else None
        added, skipped = [], []
        for kind, value in wanted:
            try:
                entry = new_entry(
                    kind,
                    value,
                    tenant=ctx.tenant,
                    reason=str(params.get("reason") or f"incident {ctx.incident.id}"),
                    added_by=ctx.actor.name,
                    now=ctx.now,
                    expires_at=expires,
                    incident_id=ctx.incident.id,
                )
            except ValidationError as exc:
                skipped.append(str(exc))
                continue
            stored = repo.add(entry)
            if stored.id == entry.id:
                added.append(stored)
        if not added and skipped:
            raise ActionError("block_indicator: " + "; ".join(skipped))
        return ActionResult(
            ok=True,
            message=f"{len(added)} 件をブロックリストに追加"
            + (f"（{len(skipped)} 件は無効）" if skipped else ""),
            detail={"added": [f"{e.kind.value}:{e.value}" for e in added], "invalid": skipped},
            rollback={"entry_ids": [e.id for e in added]},
        )

    def rollback(self, ctx: ActionContext, data: Mapping[str, Any]) -> ActionResult:
        repo = ctx.deps.need_blocklist()
        removed = 0
        for entry_id in data.get("entry_ids", []):
            try:
                repo.remove(entry_id)
                removed += 1
            except NotFoundError:
                continue
        return ActionResult(ok=True, message=f"{removed} 件をブロックリストから削除")
