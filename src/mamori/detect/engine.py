"""The detection engine: compiled Sigma rules routed, prefiltered and evaluated per event.

How an event is evaluated:

1. **Route.** Windows events go to the rules of their ``(Channel, EventID)`` (plus rules of the
   whole channel and product-wide Windows rules); other events to the rules of their
   ``data_type`` prefixes. The merged rule list of each route is built once and cached.
2. **Prefilter.** Each rule has a set of literals of which one must appear in some field of
   any event it matches (:func:`~mamori.detect.sigma.matcher.required_literals`). The event's
   values are lower-cased and joined once (the haystack, which keyword rules search too) and
   scanned once by the route's Aho-Corasick automaton of all its rules' literals; only rules
   whose literal was seen, plus the rules without such literals, are candidates. A literal
   found in a field its rule does not name only adds a candidate the predicate turns down.
3. **Evaluate** the candidates' compiled predicates (compiled lazily, on first use; their
   bytecode is kept in the rule cache folder, :mod:`~mamori.detect.sigma.codecache`).

Matches of rules referenced by correlation rules go to the :class:`Correlator`, either
immediately (streaming) or, with ``defer_correlation=True``, sorted by time at :meth:`flush`
(batch hunts over files whose events are not in time order). The same engine serves both.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import ahocorasick

from mamori.detect.base import Detector, detectors
from mamori.detect.correlate.correlator import Correlator
from mamori.detect.sigma.backend import IR
from mamori.detect.sigma.codecache import Analysis, CodeCache, code_cache_path
from mamori.detect.sigma.loader import DetectionRule, RuleProblem, RuleSet
from mamori.detect.sigma.matcher import (
    LeafCache,
    Predicate,
    compile_predicate,
    fields_of,
    fold,
    haystack_of,
    lowered_of,
    matched_fields,
    needs_all_fields,
    required_event_ids,
    required_literals,
)
from mamori.model import Alert, Event, Severity

log = logging.getLogger(__name__)

RouteKey = tuple[str, str | None, int | None]
_second = itemgetter(1)
_chain = chain.from_iterable
MAX_ROUTES = 4096


@dataclass
class EngineStats:
    events: int = 0
    candidates: int = 0
    evaluated: int = 0
    matches: int = 0
    alerts: int = 0
    errors: int = 0


class _Matcher:
    """One rule variant: IR, its lazily compiled predicate and its literals."""

    __slots__ = (
        "index",
        "rule",
        "ir",
        "pred",
        "literals",
        "broken",
        "leaf_cache",
        "fields",
        "named",
        "code_cache",
        "analysed",
        "level",
        "tags",
        "reported",
        "correlated",
    )

    def __init__(self, index: int, rule: DetectionRule, ir: IR, code_cache: CodeCache) -> None:
        self.index = index
        self.code_cache = code_cache
        self.rule = rule
        self.ir = ir
        self.pred: Predicate | None = None
        self.analysed = False
        self.named: frozenset[str] = frozenset()
        self.fields: frozenset[str] | None = None
        self.literals: frozenset[str] | None = None
        self.broken = False
        self.leaf_cache: LeafCache | None = None
        self.level = Severity.parse(rule.level)
        self.tags = tuple(rule.tags)
        self.reported = False  # emits alerts at the engine's level (set by the engine)
        self.correlated = False  # referenced by a correlation rule (set by the engine)

    def analyse(self) -> None:
        """Fields and prefilter literals, worked out when a route first needs the rule."""
        if self.analysed:
            return
        ir = self.ir
        # a keyword rule's literals occur somewhere in the whole haystack (every value)
        literals = required_literals(ir)
        self.restore(
            (
                tuple(fields_of(ir)),
                needs_all_fields(ir),
                None if literals is None else tuple(sorted({fold(x) for x in literals})),
            )
        )

    def restore(self, analysis: Analysis) -> None:
        named, keyword, literals = analysis
        self.named = frozenset(named)
        self.fields = None if keyword else self.named
        self.literals = None if literals is None else frozenset(literals)
        self.analysed = True

    def analysis(self) -> Analysis | None:
        if not self.analysed:
            return None
        literals = None if self.literals is None else tuple(sorted(self.literals))
        return (tuple(sorted(self.named)), self.fields is None, literals)

    def matched(
        self,
        f: dict[str, Any],
        l: dict[str, str],  # noqa: E741 - the predicate signature names
        h: str,
        t: datetime,
    ) -> dict[str, Any]:
        if self.leaf_cache is None:
            self.leaf_cache = LeafCache(self.ir, self.code_cache)
        return matched_fields(self.leaf_cache, f, l, h, t)

    def predicate(self) -> Predicate:
        if self.pred is None:
            self.pred = compile_predicate(self.ir, f"<sigma {self.rule.path}>", self.code_cache)
        return self.pred


@dataclass
class _Bucket:
    always: tuple[int, ...]  # rules without prefilter literals: candidates on every event
    automaton: Any  # ahocorasick.Automaton | None; each literal's value: its matcher ids
    named: tuple[str, ...] = ()  # every field the bucket's rules name
    empty: bool = False  # no rule at all: nothing to prepare


def _automaton(lit_ids: dict[str, list[int]]) -> Any:
    """An Aho-Corasick automaton over the literals whose value for each literal is the tuple
    of the matchers that require it (None without literals)."""
    if not lit_ids:
        return None
    automaton = ahocorasick.Automaton()
    for lit, matcher_ids in lit_ids.items():
        automaton.add_word(lit, tuple(matcher_ids))
    automaton.make_automaton()
    return automaton


def _route_key(event: Event) -> RouteKey:
    fields = event.fields
    channel = fields.get("Channel")
    if channel is not None or event.data_type.startswith("windows"):
        eid = fields.get("EventID")
        if not isinstance(eid, int) or isinstance(eid, bool):
            try:
                eid = int(str(eid).strip())
            except (TypeError, ValueError):
                eid = None
        return ("win", str(channel or "").lower(), eid)
    return ("dt", event.data_type.lower(), None)


def _narrow(key: RouteKey, eids: frozenset[int]) -> list[RouteKey]:
    """Route keys of a rule that requires one of ``eids`` (a Windows channel route only)."""
    kind, channel, eid = key
    if kind != "win" or channel is None:
        return [key]
    if eid is None:
        return [(kind, channel, e) for e in sorted(eids)]
    return [key] if eid in eids else []


@detectors.register
class SigmaEngine(Detector):
    """Matches events against a :class:`RuleSet`; see the module docstring."""

    NAME = "sigma"

    def __init__(
        self,
        ruleset: RuleSet,
        *,
        min_level: Severity | str = Severity.INFORMATIONAL,
        defer_correlation: bool = False,
        max_groups: int = 100_000,
    ) -> None:
        self.ruleset = ruleset
        self.min_rank = Severity.parse(min_level).rank
        self.defer_correlation = defer_correlation
        self.stats = EngineStats()
        self.problems: list[RuleProblem] = list(ruleset.problems)
        self.correlator = Correlator(ruleset.correlations, max_groups=max_groups)
        self._needed_by_correlation = self.correlator.rule_ids
        self._deferred: list[tuple[Any, int, str, Event]] = []
        self._matchers: list[_Matcher] = []
        cache_dir = ruleset.cache_dir
        self.code_cache = CodeCache(code_cache_path(cache_dir) if cache_dir else None)
        self._by_key: dict[RouteKey, list[int]] = {}
        for rule in ruleset.rules:
            for route, ir in rule.variants:
                matcher = _Matcher(len(self._matchers), rule, ir, self.code_cache)
                matcher.reported = rule.emits and matcher.level.rank >= self.min_rank
                matcher.correlated = rule.id in self._needed_by_correlation
                self._matchers.append(matcher)
                keys = route.route_keys()
                eids = required_event_ids(ir)
                if eids is not None:  # index by the EventIDs the detection itself requires
                    keys = [narrowed for k in keys for narrowed in _narrow(k, eids)]
                for key in dict.fromkeys(keys):
                    self._by_key.setdefault(key, []).append(matcher.index)
        stored = self.code_cache.analysis(ruleset.digest)
        if stored is not None and len(stored) == len(self._matchers):
            for matcher, analysis in zip(self._matchers, stored, strict=True):
                if analysis is not None:
                    matcher.restore(analysis)
        self._buckets: OrderedDict[RouteKey, _Bucket] = OrderedDict()
        self._shared: dict[tuple[int, ...], _Bucket] = {}
        self._windows: dict[tuple[str, int], _Bucket] = {}  # (Channel, EventID) as parsed
        # what wants() worked out for the fields it let through, for match() to go on with
        self._prepared: tuple[dict[str, Any], _Bucket, str, Sequence[int]] | None = None

    @property
    def rule_count(self) -> int:
        return len(self.ruleset.rules) + len(self.ruleset.correlations)

    # -- routing ---------------------------------------------------------------------------
    def _bucket(self, key: RouteKey) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is not None:
            return bucket
        ids: list[int] = []
        if key[0] == "win":
            for k in (key, ("win", key[1], None), ("win", None, None)):
                ids.extend(self._by_key.get(k, ()))
        else:
            parts = (key[1] or "").split(":")
            for n in range(1, len(parts) + 1):
                ids.extend(self._by_key.get(("dt", ":".join(parts[:n]), None), ()))
        ids = sorted(set(ids))
        shared = self._shared.get(tuple(ids))
        if shared is not None:  # another route with the very same rules
            self._remember(key, shared)
            return shared
        always: list[int] = []
        lit_ids: dict[str, list[int]] = {}
        for i in ids:
            matcher = self._matchers[i]
            matcher.analyse()
            literals = matcher.literals
            if literals is None:
                always.append(i)
            else:
                # One automaton over every value of the event: a literal of a rule that
                # names its fields may then hit in another field, which only makes the rule
                # a candidate its predicate turns down (the prefilter never decides).
                for lit in literals:
                    lit_ids.setdefault(lit, []).append(i)
        named = sorted({name for i in ids for name in self._matchers[i].named})
        bucket = _Bucket(tuple(always), _automaton(lit_ids), tuple(named), not ids)
        if len(self._shared) < MAX_ROUTES:
            self._shared[tuple(ids)] = bucket
        self._remember(key, bucket)
        return bucket

    def _remember(self, key: RouteKey, bucket: _Bucket) -> None:
        self._buckets[key] = bucket
        if len(self._buckets) > MAX_ROUTES:
            self._buckets.popitem(last=False)

    # -- matching --------------------------------------------------------------------------
    def wants(self, fields: dict[str, Any]) -> bool:
        """Whether an event of these Windows fields can give an alert: False only when no
        rule is a candidate for it (so the caller may skip making the :class:`Event`; it is
        then counted as matched). True hands the work done to the next :meth:`match` of an
        event with these very fields."""
        channel = fields.get("Channel")
        eid = fields.get("EventID")
        if type(channel) is not str or type(eid) is not int:
            return True
        bucket = self._windows.get((channel, eid))
        if bucket is None:  # a route not met yet: match() makes it
            return True
        if not bucket.empty:
            haystack, candidates = self._candidates(bucket, fields)
            if candidates:
                self._prepared = (fields, bucket, haystack, candidates)
                return True
        self.stats.events += 1
        return False

    def _candidates(self, bucket: _Bucket, fields: dict[str, Any]) -> tuple[str, Sequence[int]]:
        haystack = haystack_of(fields)
        candidates: Sequence[int] = bucket.always
        if bucket.automaton is not None:
            # every rule whose literal occurs somewhere: one scan of the whole haystack
            text = haystack if haystack.isascii() else fold(haystack)
            hits = set(_chain(map(_second, bucket.automaton.iter(text))))
            if hits:
                hits.update(candidates)
                candidates = sorted(hits)
        return haystack, candidates

    def match(self, event: Event, *, source_file: str | None = None) -> list[Alert]:
        """Alerts for one event (detections, and correlations when not deferred)."""
        self.stats.events += 1
        fields = event.fields
        prepared = self._prepared
        if prepared is not None:
            self._prepared = None
            if prepared[0] is fields:
                return self._evaluate(event, prepared[1], prepared[2], prepared[3], source_file)
        channel = fields.get("Channel")
        eid = fields.get("EventID")
        if type(channel) is str and type(eid) is int:  # Windows: skip building the route key
            bucket = self._windows.get((channel, eid))
            if bucket is None:
                bucket = self._bucket(_route_key(event))
                if len(self._windows) < MAX_ROUTES:
                    self._windows[(channel, eid)] = bucket
        else:
            bucket = self._bucket(_route_key(event))
        if bucket.empty:
            return []
        haystack, candidates = self._candidates(bucket, fields)
        if not candidates:  # most events: no rule to evaluate
            return []
        return self._evaluate(event, bucket, haystack, candidates, source_file)

    def _evaluate(
        self,
        event: Event,
        bucket: _Bucket,
        haystack: str,
        candidates: Sequence[int],
        source_file: str | None,
    ) -> list[Alert]:
        fields = event.fields
        lowered = lowered_of(fields, bucket.named)
        self.stats.candidates += len(candidates)
        alerts: list[Alert] = []
        ts = event.timestamp
        matchers = self._matchers
        seen_rules: set[str] | None = None
        evaluated = 0
        for i in candidates:
            matcher = matchers[i]
            pred = matcher.pred
            if pred is None:
                if matcher.broken:
                    continue
                try:
                    pred = matcher.predicate()
                except Exception as exc:  # an IR the compiler cannot handle
                    self._break(matcher, exc)
                    continue
            evaluated += 1
            try:
                if not pred(fields, lowered, haystack, ts):
                    continue
            except Exception as exc:  # a rule bug must not stop the stream
                self._break(matcher, exc)
                continue
            rule = matcher.rule
            if seen_rules is None:
                seen_rules = {rule.id}
            elif rule.id in seen_rules:
                continue
            else:
                seen_rules.add(rule.id)
            self.stats.matches += 1
            if matcher.correlated:
                if self.defer_correlation:
                    self._deferred.append((ts, len(self._deferred), rule.id, event))
                else:
                    alerts.extend(self._level_ok(self.correlator.feed(rule.id, event)))
            if not matcher.reported:
                continue
            alerts.append(
                Alert(
                    rule_id=rule.id,
                    rule_title=rule.title,
                    level=matcher.level,
                    timestamp=ts,
                    tags=matcher.tags,
                    tenant=event.tenant,
                    host=event.host,
                    event=event.to_dict(),
                    matched=matcher.matched(fields, lowered, haystack, ts),
                    description=rule.description,
                    source_file=source_file,
                )
            )
        self.stats.evaluated += evaluated
        self.stats.alerts += len(alerts)
        return alerts

    def _level_ok(self, alerts: list[Alert]) -> list[Alert]:
        return [a for a in alerts if a.level.rank >= self.min_rank]

    def _break(self, matcher: _Matcher, exc: Exception) -> None:
        matcher.broken = True
        matcher.pred = None
        self.stats.errors += 1
        problem = RuleProblem(
            path=matcher.rule.path,
            reason=f"rule disabled after an evaluation error: {type(exc).__name__}: {exc}",
            rule_id=matcher.rule.id,
            title=matcher.rule.title,
        )
        self.problems.append(problem)
        log.warning("%s", problem)

    def flush(self) -> list[Alert]:
        """End of input: run deferred correlation in time order and close open windows."""
        out: list[Alert] = []
        if self._deferred:
            self._deferred.sort(key=lambda item: (item[0], item[1]))
            for _, _, rule_id, event in self._deferred:
                out.extend(self.correlator.feed(rule_id, event))
            self._deferred.clear()
        out.extend(self.correlator.flush())
        out = self._level_ok(out)
        self.stats.alerts += len(out)
        self.save_code_cache()
        return out

    def sweep(self, now: datetime) -> list[Alert]:
        """Streaming: close the correlation windows that ended before ``now`` and return
        what they decide (the "at most" conditions); state of closed windows is freed."""
        out = self._level_ok(self.correlator.sweep(now))
        self.stats.alerts += len(out)
        return out

    def correlation_state(self) -> dict[str, Any]:
        """Open correlation windows as JSON-able data (streaming restarts)."""
        return self.correlator.export_state()

    def restore_correlation_state(self, data: Any) -> int:
        """Take back :meth:`correlation_state`; returns the groups restored."""
        return self.correlator.restore_state(data)

    def save_code_cache(self) -> bool:
        """Keep the bytecode compiled and the rules analysed so far for the next start
        (see :mod:`~mamori.detect.sigma.codecache`); True when the cache file was written."""
        self.code_cache.keep_analysis(
            self.ruleset.digest, [matcher.analysis() for matcher in self._matchers]
        )
        return self.code_cache.save()


__all__ = ["EngineStats", "SigmaEngine"]
