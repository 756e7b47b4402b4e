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

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mamori.detect.sigma.loader import CorrelationSpec
from mamori.model import Alert, Event, Severity

KEPT_EVENTS = 20  # contributing events attached to a correlation alert


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


__all__ = ["Correlator", "CorrelatorStats"]
