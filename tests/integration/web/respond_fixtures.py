"""Tenant-B objects of the response area for the route walker (incidents, agent commands)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from foundation_db import B_MARKER, World
from mamori.model import Severity
from mamori.respond.commands import CommandKind, EndpointCommand
from mamori.respond.models import Incident, new_id
from mamori.respond.serialize import incident_to_dict
from mamori.respond.testing import T0
from mamori.store.repos.respond import to_doc
from mamori.store.tables import RespondCommand, RespondIncident


def tenant_b_incident(world: World, session: Session) -> str:
    inc = Incident(
        id=new_id("inc"),
        tenant=world.tenant_b.slug,
        title=f"{B_MARKER} incident",
        severity=Severity.HIGH,
        created_at=T0,
        version=1,
    )
    inc.record(T0, "created", "system", f"{B_MARKER} created")
    session.add(
        RespondIncident(
            id=inc.id,
            tenant_id=world.tenant_b.id,
            tenant=inc.tenant,
            title=inc.title,
            severity=inc.severity.value,
            status=inc.status.value,
            assignee=None,
            merged_into=None,
            created_at=inc.created_at,
            updated_at=None,
            version=1,
            doc=incident_to_dict(inc),
        )
    )
    session.commit()
    return inc.id


def tenant_b_command(world: World, session: Session) -> str:
    cmd = EndpointCommand.new(
        tenant=world.tenant_b.slug,
        host=f"{B_MARKER}-pc",
        kind=CommandKind.ISOLATE_HOST,
        args={},
        created_by=B_MARKER,
        now=T0.replace(year=2099),
    )
    session.add(
        RespondCommand(
            id=cmd.id,
            tenant=cmd.tenant,
            host=cmd.host,
            status=cmd.status.value,
            created_at=cmd.created_at,
            expires_at=cmd.expires_at,
            incident_id=None,
            doc=to_doc(cmd),
        )
    )
    session.commit()
    return cmd.id


def tenant_b_command_id(_world: World) -> str:
    """An id for the agent result probe (only agent keys reach that route; none is a caller)."""
    return "cmd-0000000000000000"


def tenant_b_channel(world: World, session: Session) -> str:
    """A webhook notification channel of tenant B (its secret must never leak)."""
    from mamori.store.tables.respond import RespondNotifyChannel

    channel_id = new_id("nch")
    row = RespondNotifyChannel(
        id=channel_id,
        tenant_id=world.tenant_b.id,
        tenant=world.tenant_b.slug,
        name=f"{B_MARKER} channel {channel_id}",
        kind="webhook",
        lang="ja",
        min_severity="low",
        enabled=True,
        config={"url": f"https://{B_MARKER}.example/hook"},
        secret_enc=None,
        created_by=B_MARKER,
        created_at=T0,
        updated_at=T0,
    )
    session.add(row)
    session.commit()
    return channel_id
