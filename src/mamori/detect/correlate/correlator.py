"""Correlation of detection-rule matches (Sigma v2 ``event_count``, ``value_count``,
``temporal``, ``temporal_ordered``), grouped by ``group-by`` fields within a ``timespan``.

Matches are fed in time order (the hunt sorts them first; the streaming engine feeds them as
they come). State is bounded: windows expire (groups whose window closed are swept out every
``sweep_every`` matches), each correlation keeps at most ``max_groups``
groups (the least recently used group is dropped) and each group keeps at most
``max_events`` timestamps; every drop is counted in :class:`CorrelatorStats`. Groups are kept
per tenant: matches of two tenants never add up.

Conditions ``gt``/``gte`` fire as soon as they hold; ``lt``/``lte``/``eq``/``neq`` are
decided when a group's window closes (a later match of the group falls outside it, or
:meth:`Correlator.flush`). After firing, a group starts afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mamori.detect.sigma.loader import CorrelationSpec
from mamori.model import Alert, Event, Severity

KEPT_EVENTS = 20  # contributing events attached to a correlation alert
STATE_VERSION = 1  # of :meth:`Correlator.export_state`


@dataclass
class CorrelatorStats:
    fed: int = 0
    fired: int = 0
    groups_evicted: int = 0
    groups_expired: int = 0
    events_capped: int = 0


@dataclass
class _Group:
    start: datetime
    last: datetime
    times: deque[datetime] = field(default_factory=deque)
    values: dict[str, datetime] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)
    chain: list[datetime | None] = field(default_factory=list)  # temporal_ordered: chain starts
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEPT_EVENTS))
    host: str | None = None
    tenant: str | None = None


def _compare(op: str, value: float, count: float) -> bool:
    if op == "gt":
        return value > count
    if op == "gte":
        return value >= count
    if op == "lt":
        return value < count
    if op == "lte":
        return value <= count
    if op == "eq":
        return value == count
    return value != count


class Correlator:
    """Evaluates correlation specs over (rule id, event) matches."""

    def __init__(
        self,
        specs: list[CorrelationSpec],
        *,
        max_groups: int = 100_000,
        max_events: int = 10_000,
        sweep_every: int = 10_000,
    ) -> None:
        self.specs = specs
        self.sweep_every = max(1, sweep_every)
        self.max_groups = max_groups
        self.max_events = max_events
        self.stats = CorrelatorStats()
        self._by_rule: dict[str, list[CorrelationSpec]] = {}
        for spec in specs:
            for rid in dict.fromkeys(spec.rules):
                self._by_rule.setdefault(rid, []).append(spec)
        self._state: dict[str, OrderedDict[tuple[Any, ...], _Group]] = {
            spec.id: OrderedDict() for spec in specs
        }

    @property
    def rule_ids(self) -> set[str]:
        """Detection rules whose matches the correlator needs."""
        return set(self._by_rule)

    def group_count(self) -> int:
        return sum(len(groups) for groups in self._state.values())

    # ------------------------------------------------------------------------------------
    def feed(self, rule_id: str, event: Event) -> list[Alert]:
        """One match of ``rule_id`` on ``event``; returns correlation alerts that fire."""
        specs = self._by_rule.get(rule_id)
        if not specs:
            return []
        self.stats.fed += 1
        out: list[Alert] = []
        for spec in specs:
            alert = self._feed_one(spec, rule_id, event)
            if alert is not None:
                out.append(alert)
        if self.stats.fed % self.sweep_every == 0:
            out.extend(self.sweep(event.timestamp))
        return out

    def sweep(self, now: datetime) -> list[Alert]:
        """Drop every group whose window closed before ``now`` (deciding the "at most"
        conditions on the way); called every ``sweep_every`` matches."""
        out: list[Alert] = []
        for spec in self.specs:
            groups = self._state[spec.id]
            span = timedelta(seconds=spec.timespan)
            for key, group in list(groups.items()):  # least recently used first
                if now - group.last <= span:
                    break
                alert = self._close(spec, key, group)
                if alert is not None:
                    out.append(alert)
                del groups[key]
                self.stats.groups_expired += 1
        return out

    def flush(self) -> list[Alert]:
        """Close every open window (end of a hunt) and return what fires."""
        out: list[Alert] = []
        for spec in self.specs:
            groups = self._state[spec.id]
            for key, group in list(groups.items()):
                alert = self._close(spec, key, group)
                if alert is not None:
                    out.append(alert)
            groups.clear()
        return out

    # -- persistence (streaming restarts) ----------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """The open windows as JSON-able data (see :meth:`restore_state`).

        Each correlation's groups are kept with a fingerprint of the correlation, so they
        are only taken back by the same rule. Group-by values and kept events go through
        JSON: values JSON cannot hold come back as their text.
        """
        correlations: dict[str, Any] = {}
        for spec in self.specs:
            groups = self._state[spec.id]
            if groups:
                correlations[spec.id] = {
                    "spec": _fingerprint(spec),
                    "groups": [_dump_group(key, group) for key, group in groups.items()],
                }
        return {"version": STATE_VERSION, "correlations": correlations}

    def restore_state(self, data: Any) -> int:
        """Take back windows of :meth:`export_state`; returns how many groups were restored.

        Groups of a correlation that is gone or changed are left out, and so is anything not
        of the exported shape (never an exception for bad data). The group limit holds.
        """
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return 0
        correlations = data.get("correlations")
        if not isinstance(correlations, dict):
            return 0
        restored = 0
        for spec in self.specs:
            item = correlations.get(spec.id)
            if not isinstance(item, dict) or item.get("spec") != _fingerprint(spec):
                continue
            groups = self._state[spec.id]
            raw_groups = item.get("groups")
            for raw in raw_groups if isinstance(raw_groups, list) else []:
                loaded = _load_group(raw)
                if loaded is None or len(groups) >= self.max_groups:
                    continue
                key, group = loaded
                if key not in groups:
                    groups[key] = group
                    restored += 1
        return restored

    # ------------------------------------------------------------------------------------
    def _value(self, spec: CorrelationSpec, rule_id: str, event: Event, name: str) -> Any:
        mapping = spec.aliases.get(name)
        if mapping is not None:
            name = mapping.get(rule_id, name)
        value = event.get(name)
        return value

    def _feed_one(self, spec: CorrelationSpec, rule_id: str, event: Event) -> Alert | None:
        # groups never span tenants: one engine serves every tenant of the stream
        key = (event.tenant, *(self._value(spec, rule_id, event, g) for g in spec.group_by))
        groups = self._state[spec.id]
        ts = event.timestamp
        span = timedelta(seconds=spec.timespan)
        group = groups.get(key)
        fired: Alert | None = None
        if group is not None and ts - group.start > span:
            # the window closed: decide the "at most" conditions, then slide
            if spec.op in ("lt", "lte", "eq", "neq"):
                fired = self._close(spec, key, group)
                del groups[key]
                group = None
            else:
                self._expire(spec, group, ts - span)
        if group is None:
            group = _Group(start=ts, last=ts, host=event.host, tenant=event.tenant)
            groups[key] = group
            if len(groups) > self.max_groups:
                groups.popitem(last=False)
                self.stats.groups_evicted += 1
        else:
            groups.move_to_end(key)
        group.last = ts
        summary = event.to_dict()
        summary.pop("raw", None)
        summary["_rule_id"] = rule_id
        group.events.append(summary)
        if spec.type == "event_count":
            group.times.append(ts)
            if len(group.times) > self.max_events:
                group.times.popleft()
                self.stats.events_capped += 1
        elif spec.type == "value_count":
            value = self._value(spec, rule_id, event, spec.value_field or "")
            if value is not None:
                group.values[str(value)] = ts
                if len(group.values) > self.max_events:
                    oldest = min(group.values, key=group.values.__getitem__)
                    del group.values[oldest]
                    self.stats.events_capped += 1
        elif spec.type == "temporal":
            group.seen[rule_id] = ts
        else:  # temporal_ordered
            self._advance_chain(spec, group, rule_id, ts, span)
        eager = spec.op in ("gt", "gte") or spec.type == "temporal_ordered"
        if eager and self._holds(spec, group):
            alert = self._alert(spec, key, group)
            del groups[key]
            self.stats.fired += 1
            return alert
        return fired

    def _expire(self, spec: CorrelationSpec, group: _Group, cutoff: datetime) -> None:
        while group.times and group.times[0] < cutoff:
            group.times.popleft()
        for store in (group.values, group.seen):
            for name in [k for k, t in store.items() if t < cutoff]:
                del store[name]
        if spec.type == "temporal_ordered":
            group.chain = [c if c is not None and c >= cutoff else None for c in group.chain]
        candidates = [*group.times, *group.values.values(), *group.seen.values()]
        candidates.extend(c for c in group.chain if c is not None)
        group.start = min(candidates) if candidates else cutoff

    def _advance_chain(
        self,
        spec: CorrelationSpec,
        group: _Group,
        rule_id: str,
        ts: datetime,
        span: timedelta,
    ) -> None:
        order = spec.rules
        if not group.chain:
            group.chain = [None] * len(order)
        # chain[i] = start time of the latest chain that has completed rules[0..i]
        for index in range(len(order) - 1, -1, -1):
            if order[index] != rule_id:
                continue
            if index == 0:
                group.chain[0] = ts
            else:
                previous = group.chain[index - 1]
                if previous is not None and ts - previous <= span:
                    current = group.chain[index]
                    if current is None or previous > current:
                        group.chain[index] = previous

    def _holds(self, spec: CorrelationSpec, group: _Group) -> bool:
        if spec.type == "event_count":
            value = float(len(group.times))
        elif spec.type == "value_count":
            value = float(len(group.values))
        elif spec.type == "temporal":
            value = float(len(set(group.seen)))
            if spec.count <= 0 or (spec.op == "gte" and spec.count <= 1):
                return len(set(group.seen)) >= len(set(spec.rules))
        else:
            return bool(group.chain) and group.chain[-1] is not None
        return _compare(spec.op, value, spec.count)

    def _close(self, spec: CorrelationSpec, key: tuple[Any, ...], group: _Group) -> Alert | None:
        if spec.op in ("gt", "gte") or spec.type == "temporal_ordered":
            return None  # already decided when the matches came
        if self._holds(spec, group):
            self.stats.fired += 1
            return self._alert(spec, key, group)
        return None

    def _alert(self, spec: CorrelationSpec, key: tuple[Any, ...], group: _Group) -> Alert:
        matched: dict[str, Any] = dict(zip(spec.group_by, key[1:], strict=True))
        if spec.type == "event_count":
            matched["count"] = len(group.times)
        elif spec.type == "value_count":
            matched[f"distinct {spec.value_field}"] = len(group.values)
        elif spec.type == "temporal":
            matched["rules"] = sorted(group.seen)
        events = tuple(group.events)
        return Alert(
            rule_id=spec.id,
            rule_title=spec.title,
            level=Severity.parse(spec.level),
            timestamp=group.last,
            tags=tuple(spec.tags),
            tenant=group.tenant,
            host=group.host,
            event=dict(events[-1]) if events else {},
            matched=matched,
            description=spec.description,
            events=events,
        )


def _fingerprint(spec: CorrelationSpec) -> str:
    """What decides a correlation's windows: state of another definition is not reused."""
    data = [
        spec.type,
        spec.rules,
        spec.timespan,
        spec.op,
        spec.count,
        spec.group_by,
        spec.value_field,
        spec.aliases,
    ]
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def _time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise TypeError("not a time")
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise ValueError("time without zone")
    return ts


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _dump_group(key: tuple[Any, ...], group: _Group) -> dict[str, Any]:
    return {
        "key": _jsonable(list(key)),
        "start": _iso(group.start),
        "last": _iso(group.last),
        "times": [_iso(t) for t in group.times],
        "values": {k: _iso(t) for k, t in group.values.items()},
        "seen": {k: _iso(t) for k, t in group.seen.items()},
        "chain": [None if t is None else _iso(t) for t in group.chain],
        "events": _jsonable(list(group.events)),
        "host": group.host,
        "tenant": group.tenant,
    }


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _load_group(raw: Any) -> tuple[tuple[Any, ...], _Group] | None:
    """One group of :func:`_dump_group`, or None when ``raw`` is not of that shape."""
    try:
        key = tuple(_hashable(v) for v in raw["key"])
        host, tenant = raw.get("host"), raw.get("tenant")
        if not key or not all(x is None or isinstance(x, str) for x in (host, tenant)):
            return None
        group = _Group(
            start=_time(raw["start"]),
            last=_time(raw["last"]),
            times=deque(_time(t) for t in raw["times"]),
            values={str(k): _time(t) for k, t in raw["values"].items()},
            seen={str(k): _time(t) for k, t in raw["seen"].items()},
            chain=[None if t is None else _time(t) for t in raw["chain"]],
            host=host,
            tenant=tenant,
        )
        group.events.extend(e for e in raw["events"] if isinstance(e, dict))
        return key, group
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


__all__ = ["STATE_VERSION", "Correlator", "CorrelatorStats"]
