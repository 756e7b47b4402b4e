"""The embedded bus: in-process, with an append-only on-disk spool.

Layout under ``directory``::

    segments/00000000000000000001.seg   records, named by the first sequence number inside
    consumers/<durable>.json             per consumer: subject filter, acked floor, acks above it

A record is ``length u32 | crc32 u32 | seq u64 | body``; the body holds subject, message
id, headers (JSON) and data. Writes are group-committed: concurrent ``publish`` calls are
written together, then (with ``fsync="always"``) fsync'ed once, and only then
acknowledged. On start the last segment is checked record by record and cut after the
last whole record, so a ``kill -9`` in the middle of a write loses only what was never
acknowledged. Consumers resume from their persisted floor; anything delivered but not
acked (or whose ack was not yet persisted) is delivered again - consumers remove
duplicates by message id.

Segments that every known consumer has acked are deleted. When the segments on disk
reach ``max_bytes``, ``publish`` raises :class:`BusFull` until consumers catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from mamori.bus.base import BusError, BusFull, Delivery, Message
from mamori.bus.subjects import matches

log = logging.getLogger(__name__)

_HEAD = struct.Struct(">IIQ")  # body length, crc32 of body, sequence number
_LEN16 = struct.Struct(">H")
_LEN32 = struct.Struct(">I")
MAX_RECORD = 64 * 1024 * 1024
FsyncPolicy = Literal["always", "never"]


def _encode(seq: int, msg: Message) -> bytes:
    subject = msg.subject.encode()
    msg_id = msg.msg_id.encode()
    headers = json.dumps(dict(msg.headers), separators=(",", ":")).encode() if msg.headers else b""
    body = b"".join(
        (
            _LEN16.pack(len(subject)),
            subject,
            _LEN16.pack(len(msg_id)),
            msg_id,
            _LEN32.pack(len(headers)),
            headers,
            msg.data,
        )
    )
    return _HEAD.pack(len(body), zlib.crc32(body), seq) + body


def _decode(body: bytes) -> Message:
    pos = 0
    (n,) = _LEN16.unpack_from(body, pos)
    subject = body[pos + 2 : pos + 2 + n].decode()
    pos += 2 + n
    (n,) = _LEN16.unpack_from(body, pos)
    msg_id = body[pos + 2 : pos + 2 + n].decode()
    pos += 2 + n
    (n,) = _LEN32.unpack_from(body, pos)
    headers = json.loads(body[pos + 4 : pos + 4 + n]) if n else {}
    pos += 4 + n
    return Message(subject=subject, data=body[pos:], msg_id=msg_id, headers=headers)


def _read_record(fh: BinaryIO) -> tuple[int, bytes] | None:
    """The next whole, intact record of ``fh`` as ``(seq, body)``; None at end or damage."""
    head = fh.read(_HEAD.size)
    if len(head) < _HEAD.size:
        return None
    length, crc, seq = _HEAD.unpack(head)
    if length > MAX_RECORD:
        return None
    body = fh.read(length)
    if len(body) < length or zlib.crc32(body) != crc:
        return None
    return seq, body


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}.seg"


@dataclass
class _Segment:
    first_seq: int
    path: Path
    size: int
    last_seq: int  # 0 while empty


@dataclass
class _Pending:
    message: Message
    deadline: float
    count: int


@dataclass
class _ConsumerState:
    name: str
    subject: str
    floor: int = 0  # every seq <= floor is acked
    acked: set[int] = field(default_factory=set)  # acked seqs above floor
    dirty: bool = False

    def mark(self, seq: int) -> None:
        if seq <= self.floor:
            return
        self.dirty = True
        if seq == self.floor + 1:
            self.floor = seq
            while self.floor + 1 in self.acked:
                self.floor += 1
                self.acked.discard(self.floor)
        else:
            self.acked.add(seq)

    def to_json(self) -> str:
        return json.dumps(
            {"subject": self.subject, "floor": self.floor, "acked": sorted(self.acked)}
        )


class _Reader:
    """Sequential reader over the segments, from a given sequence number on."""

    def __init__(self, bus: EmbeddedBus) -> None:
        self.bus = bus
        self.fh: BinaryIO | None = None
        self.segment_first = 0
        self.next_seq = 0

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def _open_for(self, seq: int) -> bool:
        self.close()
        segment = self.bus._segment_for(seq)
        if segment is None:
            return False
        self.fh = open(segment.path, "rb")  # noqa: SIM115 - closed in close()
        self.segment_first = segment.first_seq
        self.next_seq = segment.first_seq
        return True

    def read(self, seq: int) -> Message | None:
        """The message with sequence ``seq`` (which must be committed); None if deleted."""
        segment = self.bus._segment_for(seq)
        if segment is None:
            return None
        if self.fh is None or segment.first_seq != self.segment_first or seq < self.next_seq:
            self._open_for(seq)
        assert self.fh is not None  # noqa: S101 - opened just above
        while True:
            pos = self.fh.tell()
            record = _read_record(self.fh)
            if record is None:
                # only possible after outside damage (or fsync="never" and an OS crash):
                # skip the rest of this segment rather than stop every consumer
                self.fh.seek(pos)
                self.bus.damaged += 1
                log.error(
                    "spool record %d in segment %d is damaged; skipping it", seq, self.segment_first
                )
                return None
            got, body = record
            self.next_seq = got + 1
            if got == seq:
                return _decode(body)
            if got > seq:
                return None


class _EmbeddedDelivery:
    __slots__ = ("_consumer", "_message", "_seq", "_count")

    def __init__(self, consumer: _Consumer, seq: int, message: Message, count: int) -> None:
        self._consumer = consumer
        self._seq = seq
        self._message = message
        self._count = count

    @property
    def message(self) -> Message:
        return self._message

    @property
    def num_delivered(self) -> int:
        return self._count

    @property
    def seq(self) -> int:
        return self._seq

    async def ack(self) -> None:
        self._consumer.ack(self._seq)

    async def nak(self) -> None:
        self._consumer.nak(self._seq)


class _Consumer:
    """Delivery state of one durable consumer, shared by its subscriptions."""

    def __init__(
        self, bus: EmbeddedBus, state: _ConsumerState, ack_wait: float, max_ack_pending: int
    ) -> None:
        self.bus = bus
        self.state = state
        self.ack_wait = ack_wait
        self.max_ack_pending = max_ack_pending
        self.next_seq = state.floor + 1
        self.pending: OrderedDict[int, _Pending] = OrderedDict()
        self.reader = _Reader(bus)
        self.subscriptions = 0

    def ack(self, seq: int) -> None:
        if self.pending.pop(seq, None) is not None or seq > self.state.floor:
            self.state.mark(seq)
            self.bus._wake()

    def nak(self, seq: int) -> None:
        pending = self.pending.get(seq)
        if pending is not None:
            pending.deadline = 0.0
            self.bus._wake()

    def release(self) -> None:
        """Nobody listens any more: make every unacked message due for redelivery."""
        for pending in self.pending.values():
            pending.deadline = 0.0

    def _take(self, max_messages: int) -> list[Delivery]:
        out: list[Delivery] = []
        now = time.monotonic()
        for seq, pending in self.pending.items():
            if len(out) >= max_messages:
                return out
            if pending.deadline <= now:
                pending.deadline = now + self.ack_wait
                pending.count += 1
                out.append(_EmbeddedDelivery(self, seq, pending.message, pending.count))
        while (
            len(out) < max_messages
            and len(self.pending) < self.max_ack_pending
            and self.next_seq <= self.bus._committed_seq
        ):
            seq = self.next_seq
            self.next_seq += 1
            if seq <= self.state.floor or seq in self.state.acked:
                continue
            message = self.reader.read(seq)
            if message is None or not matches(self.state.subject, message.subject):
                self.state.mark(seq)  # not for us (or deleted): counts as handled
                continue
            self.pending[seq] = _Pending(message, now + self.ack_wait, 1)
            out.append(_EmbeddedDelivery(self, seq, message, 1))
        return out

    def next_deadline(self) -> float | None:
        if not self.pending:
            return None
        return min(p.deadline for p in self.pending.values())


class EmbeddedSubscription:
    """A pull subscription on the embedded bus."""

    def __init__(self, bus: EmbeddedBus, consumer: _Consumer) -> None:
        self._bus = bus
        self._consumer = consumer
        self._closed = False

    async def fetch(self, max_messages: int = 100, timeout: float = 1.0) -> list[Delivery]:
        if self._closed:
            raise BusError("subscription is closed")
        end = time.monotonic() + timeout
        while True:
            out = self._consumer._take(max_messages)
            if out:
                return out
            now = time.monotonic()
            if now >= end or self._bus._closed:
                return []
            wait = end - now
            deadline = self._consumer.next_deadline()
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - now))
            await self._bus._wait_change(wait)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.subscriptions -= 1
            if self._consumer.subscriptions == 0:
                self._consumer.release()
            await self._bus._persist_consumers()


class EmbeddedBus:
    """The in-process bus with an on-disk spool; see the module docstring.

    Args:
        directory: where the spool lives (created).
        max_bytes: spool size over which ``publish`` raises :class:`BusFull`.
        segment_bytes: size at which a new segment file is started.
        fsync: ``"always"`` (fsync before acknowledging; survives power loss) or
            ``"never"`` (written to the OS before acknowledging; survives a crash or
            ``kill -9`` of the process, not of the machine).
        state_interval: seconds between saves of consumer positions.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 64 << 20,
        fsync: FsyncPolicy = "always",
        state_interval: float = 0.2,
        dedup_window: int = 100_000,
    ) -> None:
        if fsync not in ("always", "never"):
            raise BusError(f"unknown fsync policy {fsync!r} (expected 'always' or 'never')")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.state_interval = state_interval
        self.dedup_window = dedup_window
        self._segments: list[_Segment] = []
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._next_seq = 1
        self._committed_seq = 0
        self._total_bytes = 0
        self._queue: list[tuple[bytes, int]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._recent: OrderedDict[str, int] = OrderedDict()  # msg_id -> seq (publish dedup)
        self._consumers: dict[str, _Consumer] = {}
        self._states: dict[str, _ConsumerState] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._saver: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._flush_needed = asyncio.Event()
        self._closed = True
        self._error: BaseException | None = None
        self.damaged = 0  # damaged records skipped by readers

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open (or recover) the spool and the consumer positions."""
        if not self._closed:
            return
        (self.directory / "segments").mkdir(parents=True, exist_ok=True)
        (self.directory / "consumers").mkdir(parents=True, exist_ok=True)
        self._lock_spool()
        try:
            self._recover_segments()
            self._load_consumers()
        except BaseException:
            self._unlock_spool()
            raise
        self._closed = False
        self._error = None
        self._wakeup = asyncio.Event()
        self._flush_needed = asyncio.Event()
        self._flusher = asyncio.create_task(self._flush_loop(), name="mamori-bus-flush")
        self._saver = asyncio.create_task(self._save_loop(), name="mamori-bus-save")

    async def close(self) -> None:
        """Flush what is queued, save consumer positions and close files."""
        if self._closed:
            return
        self._closed = True
        self._flush_needed.set()
        self._wake()
        if self._flusher is not None:
            await self._flusher  # writes what is queued, then stops
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(BusError("bus closed before the message was stored"))
        self._waiters.clear()
        await self._persist_consumers()
        for consumer in self._consumers.values():
            consumer.reader.close()
        if self._fd is not None:
            if self.fsync == "always":
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        self._unlock_spool()

    def _lock_spool(self) -> None:
        """Take the spool for this process alone: two writers would interleave records.

        Raises:
            BusError: another process (or another bus object) has the spool open.
        """
        path = self.directory / "LOCK"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise BusError(
                f"spool {self.directory} is in use by another mamori process (pid {holder}); "
                "send to the running one (HTTP intake) or use a NATS bus"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _unlock_spool(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    async def __aenter__(self) -> EmbeddedBus:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- recovery --------------------------------------------------------------------

    def _recover_segments(self) -> None:
        seg_dir = self.directory / "segments"
        named: list[tuple[int, Path]] = []
        for path in sorted(seg_dir.glob("*.seg")):
            try:
                named.append((int(path.stem), path))
            except ValueError:
                log.warning("ignoring unexpected file %s in the spool", path)
        self._segments = []
        self._total_bytes = 0
        for i, (first, path) in enumerate(named):
            if i == len(named) - 1:
                last, size = self._check_tail(path, first)
            else:  # a finished segment ends where the next one begins
                last, size = named[i + 1][0] - 1, path.stat().st_size
            self._segments.append(_Segment(first, path, size, max(last, 0)))
            self._total_bytes += size
        if self._segments:
            tail = self._segments[-1]
            self._next_seq = max(tail.last_seq, tail.first_seq - 1) + 1
        else:
            self._next_seq = 1
        self._committed_seq = self._next_seq - 1
        self._open_active()

    def _check_tail(self, path: Path, first: int) -> tuple[int, int]:
        """Validate the last segment; cut a torn record off its end."""
        last = first - 1
        good = 0
        with open(path, "rb") as fh:
            while True:
                record = _read_record(fh)
                if record is None:
                    break
                seq, body = record
                if seq != last + 1:
                    break
                last = seq
                good = fh.tell()
                with contextlib.suppress(Exception):
                    self._remember_id(_decode(body).msg_id, seq)
        size = path.stat().st_size
        if size != good:
            log.warning("spool %s: cutting %d bytes of an unfinished record", path, size - good)
            with open(path, "r+b") as fh:
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
        return last, good

    def _open_active(self) -> None:
        if not self._segments:
            self._new_segment(self._next_seq)
            return
        tail = self._segments[-1]
        self._fd = os.open(tail.path, os.O_WRONLY | os.O_APPEND)

    def _new_segment(self, first_seq: int) -> None:
        path = self.directory / "segments" / _segment_name(first_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._segments.append(_Segment(first_seq, path, 0, 0))
        if self.fsync == "always":
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _segment_for(self, seq: int) -> _Segment | None:
        for segment in reversed(self._segments):
            if segment.first_seq <= seq:
                return segment
        return None

    def _load_consumers(self) -> None:
        self._states = {}
        for path in sorted((self.directory / "consumers").glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                state = _ConsumerState(
                    name=path.stem,
                    subject=str(data["subject"]),
                    floor=int(data["floor"]),
                    acked={int(x) for x in data.get("acked", [])},
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # at-least-once: a lost position means delivering again from the oldest
                # message (consumers de-duplicate), never refusing to start
                log.error(
                    "consumer state %s is damaged (%s); it restarts from the oldest "
                    "message in the spool",
                    path,
                    exc,
                )
                path.replace(path.with_suffix(".damaged"))
                self.damaged += 1
                continue
            self._states[state.name] = state

    # ---- publishing ------------------------------------------------------------------

    def is_full(self) -> bool:
        return self._total_bytes >= self.max_bytes

    @property
    def size_bytes(self) -> int:
        """Bytes of spool on disk."""
        return self._total_bytes

    def _remember_id(self, msg_id: str, seq: int) -> None:
        self._recent[msg_id] = seq
        if len(self._recent) > self.dedup_window:
            self._recent.popitem(last=False)

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        await self.publish_many([Message(subject, data, msg_id, dict(headers or {}))])

    async def publish_many(self, messages: Sequence[Message]) -> None:
        if self._closed:
            raise BusError("bus is closed")
        if self._error is not None:
            raise BusError(f"spool write failed: {self._error}")
        if not messages:
            return
        if self.is_full():
            raise BusFull(
                f"spool {self.directory} is full ({self._total_bytes} of {self.max_bytes} bytes)"
            )
        last = 0
        for msg in messages:
            known = self._recent.get(msg.msg_id)
            if known is not None:  # a re-sent message: stored once
                last = max(last, known)
                continue
            seq = self._next_seq
            self._next_seq += 1
            record = _encode(seq, msg)
            if len(record) > MAX_RECORD:
                raise BusError(f"message {msg.msg_id} is larger than {MAX_RECORD} bytes")
            self._queue.append((record, seq))
            self._remember_id(msg.msg_id, seq)
            last = seq
        if last <= self._committed_seq:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((last, future))
        self._flush_needed.set()
        await future

    async def _flush_loop(self) -> None:
        while True:
            await self._flush_needed.wait()
            self._flush_needed.clear()
            if self._closed and not self._queue:
                return
            try:
                await self._write_queue()
            except Exception as exc:  # disk full, I/O error: fail the waiting publishers
                log.exception("spool write failed")
                self._error = exc
                for _, future in self._waiters:
                    if not future.done():
                        future.set_exception(BusError(f"spool write failed: {exc}"))
                self._waiters.clear()
                return

    async def _write_queue(self) -> None:
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        chunk: list[bytes] = []
        for record, seq in batch:
            tail = self._segments[-1]
            if tail.size and tail.size + len(record) > self.segment_bytes:
                self._write(chunk)
                chunk = []
                await self._roll(seq)
                tail = self._segments[-1]
            chunk.append(record)
            tail.size += len(record)
            tail.last_seq = seq
            self._total_bytes += len(record)
        self._write(chunk)
        if self.fsync == "always" and self._fd is not None:
            await asyncio.to_thread(os.fsync, self._fd)
        self._committed_seq = batch[-1][1]
        still: list[tuple[int, asyncio.Future[None]]] = []
        for seq, future in self._waiters:
            if seq <= self._committed_seq:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((seq, future))
        self._waiters = still
        self._wake()

    def _write(self, chunk: list[bytes]) -> None:
        if not chunk or self._fd is None:
            return
        view = memoryview(b"".join(chunk))
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    async def _roll(self, first_seq: int) -> None:
        if self._fd is not None:
            fd = self._fd
            if self.fsync == "always":
                await asyncio.to_thread(os.fsync, fd)
            os.close(fd)
        self._new_segment(first_seq)

    # ---- consuming -------------------------------------------------------------------

    def _wake(self) -> None:
        self._wakeup.set()

    async def _wait_change(self, timeout: float) -> None:
        event = self._wakeup
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def subscribe(
        self,
        subject: str,
        durable: str,
        *,
        ack_wait: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> EmbeddedSubscription:
        if self._closed:
            raise BusError("bus is closed")
        if not durable or "/" in durable or durable.startswith("."):
            raise BusError(f"invalid durable consumer name {durable!r}")
        consumer = self._consumers.get(durable)
        if consumer is not None and consumer.state.subject != subject:
            raise BusError(
                f"consumer {durable!r} exists with subject {consumer.state.subject!r}, "
                f"not {subject!r}"
            )
        if consumer is None:
            state = self._states.get(durable)
            if state is None:
                # a new consumer starts at the oldest message still in the spool
                first = self._segments[0].first_seq if self._segments else 1
                state = _ConsumerState(durable, subject, floor=first - 1, dirty=True)
                self._states[durable] = state
            elif state.subject != subject:
                raise BusError(
                    f"consumer {durable!r} exists with subject {state.subject!r}, not {subject!r}"
                )
            consumer = _Consumer(self, state, ack_wait, max_ack_pending)
            self._consumers[durable] = consumer
            await self._persist_consumers()
        consumer.subscriptions += 1
        return EmbeddedSubscription(self, consumer)

    async def delete_consumer(self, durable: str) -> bool:
        """Forget a durable consumer (it no longer holds spool space); True if it existed.

        Raises:
            BusError: the consumer has open subscriptions.
        """
        consumer = self._consumers.get(durable)
        if consumer is not None and consumer.subscriptions > 0:
            raise BusError(f"consumer {durable!r} still has subscriptions")
        existed = self._states.pop(durable, None) is not None
        if consumer is not None:
            consumer.reader.close()
            del self._consumers[durable]
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "consumers" / f"{durable}.json").unlink()
        self._delete_consumed()
        return existed

    # ---- positions and clean-up ------------------------------------------------------

    async def _save_loop(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.state_interval)
            try:
                await self._persist_consumers()
            except OSError:
                log.exception("saving consumer positions failed")

    async def _persist_consumers(self) -> None:
        dirty = [s for s in self._states.values() if s.dirty]
        for state in dirty:
            state.dirty = False
            path = self.directory / "consumers" / f"{state.name}.json"
            tmp = path.with_suffix(".tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(state.to_json())
                if self.fsync == "always":
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        if dirty:
            self._delete_consumed()

    def _delete_consumed(self) -> None:
        if not self._states:
            return  # nobody has read anything yet: keep everything
        floor = min(state.floor for state in self._states.values())
        freed = False
        while len(self._segments) > 1 and self._segments[0].last_seq <= floor:
            segment = self._segments.pop(0)
            for consumer in self._consumers.values():
                if consumer.reader.segment_first == segment.first_seq:
                    consumer.reader.close()
            with contextlib.suppress(FileNotFoundError):
                segment.path.unlink()
            self._total_bytes -= segment.size
            freed = True
        if freed:
            self._wake()

    def stats(self) -> dict[str, object]:
        """Figures for health pages: spool size, sequence numbers, consumer lag."""
        return {
            "bytes": self._total_bytes,
            "max_bytes": self.max_bytes,
            "segments": len(self._segments),
            "last_seq": self._committed_seq,
            "consumers": {
                name: {"floor": s.floor, "lag": self._committed_seq - s.floor}
                for name, s in self._states.items()
            },
        }


__all__ = ["EmbeddedBus", "EmbeddedSubscription", "FsyncPolicy"]
