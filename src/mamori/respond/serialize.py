"""Plain-JSON forms of the response domain (for the API, JSON columns and exports).

``incident_from_dict(incident_to_dict(x)) == x`` for every incident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mamori.model import Severity
from mamori.respond.models import (
    AlertRecord,
    Attachment,
    Comment,
    Incident,
    IncidentStatus,
    Observable,
    ObservableKind,
    Task,
    TimelineEntry,
)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _req(value: Any) -> datetime:
    out = _dt(value)
    if out is None:
        raise ValueError("missing timestamp")
    return out


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "tenant": incident.tenant,
        "title": incident.title,
        "severity": incident.severity.value,
        "severity_overridden": incident.severity_overridden,
        "status": incident.status.value,
        "assignee": incident.assignee,
        "created_at": _ts(incident.created_at),
        "updated_at": _ts(incident.updated_at),
        "last_alert_at": _ts(incident.last_alert_at),
        "version": incident.version,
        "alert_ids": list(incident.alert_ids),
        "alert_count": incident.alert_count,
        "hosts": list(incident.hosts),
        "users": list(incident.users),
        "tactics": list(incident.tactics),
        "rule_ids": list(incident.rule_ids),
        "tags": list(incident.tags),
        "observables": [{"kind": o.kind.value, "value": o.value} for o in incident.observables],
        "tasks": [
            {
                "id": t.id,
                "title": t.title,
                "created_at": _ts(t.created_at),
                "created_by": t.created_by,
                "assignee": t.assignee,
                "done": t.done,
                "done_at": _ts(t.done_at),
                "done_by": t.done_by,
            }
            for t in incident.tasks
        ],
        "comments": [
            {"id": c.id, "author": c.author, "at": _ts(c.at), "text": c.text}
            for c in incident.comments
        ],
        "attachments": [
            {
                "id": a.id,
                "name": a.name,
                "sha256": a.sha256,
                "size": a.size,
                "content_type": a.content_type,
                "added_by": a.added_by,
                "added_at": _ts(a.added_at),
            }
            for a in incident.attachments
        ],
        "timeline": [
            {
                "at": _ts(e.at),
                "kind": e.kind,
                "actor": e.actor,
                "summary": e.summary,
                "detail": dict(e.detail),
            }
            for e in incident.timeline
        ],
        "links": list(incident.links),
        "merged_into": incident.merged_into,
        "sla_breaches": list(incident.sla_breaches),
        "personal_data": incident.personal_data,
    }


def incident_from_dict(data: dict[str, Any]) -> Incident:
    """Inverse of :func:`incident_to_dict`. Raises KeyError/ValueError on a bad document."""
    return Incident(
        id=str(data["id"]),
        tenant=str(data["tenant"]),
        title=str(data["title"]),
        severity=Severity.parse(data["severity"]),
        created_at=_req(data["created_at"]),
        status=IncidentStatus(data["status"]),
        severity_overridden=bool(data.get("severity_overridden")),
        assignee=data.get("assignee"),
        updated_at=_dt(data.get("updated_at")),
        last_alert_at=_dt(data.get("last_alert_at")),
        version=int(data.get("version", 0)),
        alert_ids=list(data.get("alert_ids", [])),
        alert_count=int(data.get("alert_count", 0)),
        hosts=list(data.get("hosts", [])),
        users=list(data.get("users", [])),
        tactics=list(data.get("tactics", [])),
        rule_ids=list(data.get("rule_ids", [])),
        tags=list(data.get("tags", [])),
        observables=[
            Observable(ObservableKind(o["kind"]), str(o["value"]))
            for o in data.get("observables", [])
        ],
        tasks=[
            Task(
                id=t["id"],
                title=t["title"],
                created_at=_req(t["created_at"]),
                created_by=t["created_by"],
                assignee=t.get("assignee"),
                done=bool(t.get("done")),
                done_at=_dt(t.get("done_at")),
                done_by=t.get("done_by"),
            )
            for t in data.get("tasks", [])
        ],
        comments=[
            Comment(id=c["id"], author=c["author"], at=_req(c["at"]), text=c["text"])
            for c in data.get("comments", [])
        ],
        attachments=[
            Attachment(
                id=a["id"],
                name=a["name"],
                sha256=a["sha256"],
                size=int(a["size"]),
                content_type=a["content_type"],
                added_by=a["added_by"],
                added_at=_req(a["added_at"]),
            )
            for a in data.get("attachments", [])
        ],
        timeline=[
            TimelineEntry(
                at=_req(e["at"]),
                kind=e["kind"],
                actor=e["actor"],
                summary=e["summary"],
                detail=dict(e.get("detail") or {}),
            )
            for e in data.get("timeline", [])
        ],
        links=list(data.get("links", [])),
        merged_into=data.get("merged_into"),
        sla_breaches=list(data.get("sla_breaches", [])),
        personal_data=bool(data.get("personal_data")),
    )


def alert_record_to_dict(record: AlertRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "tenant": record.tenant,
        "rule_id": record.rule_id,
        "rule_title": record.rule_title,
        "level": record.level.value,
        "host": record.host,
        "user": record.user,
        "tags": list(record.tags),
        "dedup_key": record.dedup_key,
        "first_seen": _ts(record.first_seen),
        "last_seen": _ts(record.last_seen),
        "count": record.count,
        "incident_id": record.incident_id,
        "unknown_host": record.unknown_host,
        "sample": record.sample.to_dict(),
    }


__all__ = ["alert_record_to_dict", "incident_from_dict", "incident_to_dict"]
