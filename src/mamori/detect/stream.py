"""Streaming detection: normalised events from the bus through a :class:`SigmaEngine`, alerts
back onto the bus.

:class:`DetectionConsumer` is the worker loop of the durable consumer ``detect`` on
``mamori.events.>``: it fetches a batch, decodes each message (``Event.to_json``), matches it,
publishes every alert as ``Alert.to_dict()`` JSON on ``mamori.alerts.<tenant>`` and acks the
batch only after those alerts are stored by the bus. Publishing that fails (bus full or down)
is retried until it succeeds; a consumer stopped in between hands the batch back un-acked, so
it is delivered again (after a restart too).

* **Replays.** Event ids already handled are skipped (:class:`~mamori.bus.dedup.Deduplicator`),
  and every alert carries a message id derived from its rule and events
  (:func:`alert_msg_id`), so an alert re-created after a crash is removed by the bus and by
  response.
* **Correlation.** Matches feed the engine's correlator as they come; every
  ``sweep_interval`` seconds windows that closed more than ``lateness`` seconds ago are
  decided and freed (:meth:`SigmaEngine.sweep`). Correlation state is in memory and bounded
  (``max_groups`` per correlation rule). With ``state_path`` the open windows survive a
  restart: :meth:`DetectionConsumer.stop` writes them to that file (atomically) and
  :meth:`DetectionConsumer.start` takes them back (claiming the file first, so of several
  workers sharing a data directory only one gets them); windows of a correlation rule that
  is gone or changed are dropped. A crash loses them, and so does a stop that hands a batch
  back un-acked (its matches would count twice when it comes again).
* **Bad messages.** A message that is not an event is logged, counted and acked (the store
  consumer keeps the record); it never stops the stream.

:func:`load_stream_rules` builds the rule set: mamori's bundled rules plus extra folders; a
folder that is missing or unreadable is logged and skipped, and every refused rule is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mamori.bus.base import Bus, BusError, Delivery, Message, Subscription
from mamori.bus.dedup import Deduplicator
from mamori.bus.subjects import EVENTS_ALL, alerts_subject
from mamori.detect.engine import SigmaEngine
from mamori.detect.sigma.loader import RuleSet, bundled_rules_dir, load_rules
from mamori.model import Alert, Event, event_id_for

log = logging.getLogger(__name__)

DETECT_DURABLE = "detect"
MAX_STATE_BYTES = 256 * 1024 * 1024
"""A saved correlation state larger than this is not read back (it is dropped)."""
MAX_LOGGED_PROBLEMS = 20


def alert_msg_id(alert: Alert) -> str:
    """A message id that is the same whenever the same rule fires on the same event(s)."""
    ids = [str(alert.event.get("event_id") or "")]
    ids.extend(str(e.get("event_id") or "") for e in alert.events)
    return event_id_for("alert", alert.rule_id, alert.tenant, *ids)


def alert_message(alert: Alert) -> Message:
    """The bus message of one alert: ``Alert.to_dict()`` as JSON on the tenant's subject."""
    data = json.dumps(alert.to_dict(), ensure_ascii=False, default=str).encode("utf-8")
    return Message(subject=alerts_subject(alert.tenant), data=data, msg_id=alert_msg_id(alert))


def _readable_dir(path: Path) -> str | None:
    """Why ``path`` cannot serve as a rule folder, or None when it can."""
    try:
        if not path.exists():
            return "does not exist"
        if not path.is_dir() and not path.is_file():
            return "is neither a folder nor a file"
        if path.is_dir():
            next(iter(os.scandir(path)), None)
        else:
            with path.open("rb"):
                pass
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    return None


def load_stream_rules(
    extra_dirs: Iterable[Path],
    *,
    cache_dir: Path | None,
    placeholders: dict[str, list[str]] | None = None,
) -> RuleSet:
    """Bundled rules plus ``extra_dirs``; unusable folders and refused rules are logged.

    ``placeholders`` gives the values of Sigma placeholders (``expand`` modifier); a rule
    whose placeholder has no value is refused (and logged) like any other broken rule.
    Never raises for a bad folder or rule: the worst case is the bundled rules alone.
    """
    paths = [bundled_rules_dir()]
    for raw in extra_dirs:
        path = Path(raw).expanduser()
        reason = _readable_dir(path)
        if reason is not None:
            log.error("detection: rule folder %s %s; skipped", path, reason)
            continue
        paths.append(path)
    try:
        ruleset = load_rules(paths, cache_dir=cache_dir, placeholders=placeholders)
    except Exception:  # a loader bug on odd input must not keep detection down
        log.exception("detection: loading %s failed; using the bundled rules only", paths[1:])
        ruleset = load_rules([bundled_rules_dir()], cache_dir=cache_dir, placeholders=placeholders)
    for problem in ruleset.problems[:MAX_LOGGED_PROBLEMS]:
        log.warning("detection: rule skipped: %s", problem)
    if len(ruleset.problems) > MAX_LOGGED_PROBLEMS:
        log.warning("detection: %d more rules skipped", len(ruleset.problems) - MAX_LOGGED_PROBLEMS)
    log.info(
        "detection: %d rules, %d correlations loaded%s, %d skipped",
        len(ruleset.rules),
        len(ruleset.correlations),
        " (cache)" if ruleset.from_cache else "",
        len(ruleset.problems),
    )
    return ruleset


@dataclass
class StreamStats:
    events: int = 0
    duplicates: int = 0
    bad: int = 0
    alerts: int = 0
    publish_failures: int = 0
    sweeps: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


class DetectionConsumer:
    """The ``detect`` durable consumer: events -> engine -> alerts; see the module docstring."""

    def __init__(
        self,
        bus: Bus,
        engine: SigmaEngine,
        *,
        subject: str = EVENTS_ALL,
        durable: str = DETECT_DURABLE,
        batch_size: int = 500,
        ack_wait: float = 120.0,
        retry_delay: float = 1.0,
        sweep_interval: float = 30.0,
        lateness: float = 60.0,
        dedup_capacity: int = 200_000,
        clock: Callable[[], datetime] = _now,
        state_path: Path | None = None,
    ) -> None:
        if engine.defer_correlation:
            raise ValueError("a streaming engine feeds correlation as matches come")
        self.bus = bus
        self.engine = engine
        self.subject = subject
        self.durable = durable
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.retry_delay = retry_delay
        self.sweep_interval = sweep_interval
        self.lateness = timedelta(seconds=lateness)
        self.clock = clock
        self.stats = StreamStats()
        self._seen = Deduplicator(capacity=dedup_capacity)
        self._sub: Subscription | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_sweep: float | None = None
        self._max_ts: datetime | None = None  # latest event time seen ...
        self._max_ts_at = clock()  # ... and when (wall clock)
        self.state_path = state_path
        self._handed_back = False  # a batch went back un-acked: its matches are in the state

    async def _subscription(self) -> Subscription:
        if self._sub is None:
            self._sub = await self.bus.subscribe(self.subject, self.durable, ack_wait=self.ack_wait)
        return self._sub

    def _decode(self, delivery: Delivery) -> Event | None:
        message = delivery.message
        try:
            data = json.loads(message.data)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            event = Event.from_dict(data)
        except (ValueError, TypeError, KeyError) as exc:
            self.stats.bad += 1
            log.warning(
                "detection: unreadable event on %s (%s): %s", message.subject, message.msg_id, exc
            )
            return None
        if event.tenant is None:  # the subject names the tenant: mamori.events.<tenant>.<src>
            parts = message.subject.split(".")
            if len(parts) >= 4 and parts[2] != "_":
                event.tenant = parts[2]
        return event

    def _match(self, batch: Sequence[Delivery]) -> tuple[list[Alert], list[str]]:
        alerts: list[Alert] = []
        ids: dict[str, None] = {}
        for delivery in batch:
            event = self._decode(delivery)
            if event is None:
                continue
            if event.id in self._seen or event.id in ids:
                self.stats.duplicates += 1
                continue
            ids[event.id] = None
            self.stats.events += 1
            if self._max_ts is None or event.timestamp > self._max_ts:
                self._max_ts = event.timestamp
                self._max_ts_at = self.clock()
            alerts.extend(self.engine.match(event))
        return alerts, list(ids)

    async def _publish(self, alerts: list[Alert]) -> bool:
        """Publish until stored; False when stopped before that."""
        messages = [alert_message(alert) for alert in alerts]
        while True:
            try:
                await self.bus.publish_many(messages)
            except BusError as exc:
                self.stats.publish_failures += 1
                log.warning(
                    "detection: publishing %d alerts failed (%s); retrying", len(messages), exc
                )
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.retry_delay)
                except TimeoutError:
                    continue
                return False
            self.stats.alerts += len(messages)
            return True

    async def run_once(self, timeout: float = 1.0) -> int:
        """Handle one batch; returns how many messages it held (0 when none came)."""
        sub = await self._subscription()
        batch = await sub.fetch(self.batch_size, timeout=timeout)
        alerts, ids = self._match(batch)
        alerts.extend(self._maybe_sweep())
        if alerts and not await self._publish(alerts):
            for delivery in batch:  # stopped while the bus refused: all comes back
                await delivery.nak()
            self._handed_back = True
            return 0
        for delivery in batch:
            await delivery.ack()
        for event_id in ids:
            self._seen.add(event_id)
        return len(batch)

    def _maybe_sweep(self) -> list[Alert]:
        loop_time = asyncio.get_running_loop().time()
        if self._last_sweep is None:
            self._last_sweep = loop_time
            return []
        if loop_time - self._last_sweep < self.sweep_interval:
            return []
        self._last_sweep = loop_time
        return self.sweep()

    def watermark(self) -> datetime:
        """Event time the stream has reached: the latest event time seen, moved on by the
        wall-clock time since it was seen (so windows close while no event comes, and a
        replay of old logs is judged by its own time)."""
        now = self.clock()
        if self._max_ts is None:
            return now
        return self._max_ts + (now - self._max_ts_at)

    def sweep(self) -> list[Alert]:
        """Decide correlation windows closed before the watermark minus ``lateness``."""
        self.stats.sweeps += 1
        return self.engine.sweep(self.watermark() - self.lateness)

    async def run(self) -> None:
        """Process until :meth:`stop` is called."""
        while not self._stop.is_set():
            try:
                await self.run_once(timeout=0.5)
            except Exception:  # the bus is unreachable or broken: keep trying, say so
                log.exception("detection: consuming events failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.retry_delay)

    async def start(self) -> None:
        self._stop.clear()
        self._handed_back = False
        self.restore_state()
        await self._subscription()
        self._task = asyncio.create_task(self.run(), name="mamori-detect-consumer")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
        self.save_state()
        self.engine.save_code_cache()

    def restore_state(self) -> int:
        """Take back the correlation windows a previous :meth:`stop` saved; returns the
        groups restored. The file is claimed (renamed) first and removed once read; a file
        that cannot be read is logged and dropped."""
        if self.state_path is None:
            return 0
        claimed = self.state_path.with_name(f"{self.state_path.name}.{os.getpid()}.loading")
        try:
            os.replace(self.state_path, claimed)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            log.warning("detection: correlation state %s not taken: %s", self.state_path, exc)
            return 0
        try:
            if claimed.stat().st_size > MAX_STATE_BYTES:
                raise ValueError(f"larger than {MAX_STATE_BYTES} bytes")
            data = json.loads(claimed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("detection: correlation state %s dropped: %s", self.state_path, exc)
            data = None
        finally:
            with contextlib.suppress(OSError):
                claimed.unlink()
        restored = self.engine.restore_correlation_state(data) if data is not None else 0
        if restored:
            log.info("detection: %d open correlation windows taken back", restored)
        return restored

    def save_state(self) -> bool:
        """Write the open correlation windows to ``state_path`` (atomically); True when
        written. Nothing is written when a batch was handed back un-acked."""
        if self.state_path is None:
            return False
        if self._handed_back:
            log.info("detection: a batch comes again; correlation windows start afresh")
            return False
        state = self.engine.correlation_state()
        if not state.get("correlations"):
            with contextlib.suppress(OSError):
                self.state_path.unlink()
            return False
        tmp: str | None = None
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".detect-state-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(state, out, ensure_ascii=False, default=str)
            os.replace(tmp, self.state_path)
        except OSError as exc:
            log.warning("detection: correlation state not saved: %s", exc)
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False
        return True

    async def drain(self, idle: float = 0.3) -> int:
        """Process until no message arrives for ``idle`` seconds; returns the count."""
        total = 0
        while count := await self.run_once(timeout=idle):
            total += count
        return total


__all__ = [
    "DETECT_DURABLE",
    "DetectionConsumer",
    "StreamStats",
    "alert_message",
    "alert_msg_id",
    "load_stream_rules",
]
