"""Syslog over TCP framing (RFC 6587): octet counting or newline-terminated, auto-detected.

:class:`SyslogFramer` is fed bytes as they arrive and returns whole records. The first
byte of a connection decides the method: a digit means octet counting (``LEN SP MSG``),
anything else newline framing (LF, an optional CR stripped). A record over the size
limit is returned cut, flagged ``complete=False`` (the rest of it is skipped), so memory
stays bounded and nothing is silently dropped. A broken octet count switches the
connection to newline framing instead of losing the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Framing(Enum):
    UNKNOWN = "unknown"
    OCTET = "octet-counting"
    NEWLINE = "newline"


@dataclass(frozen=True, slots=True)
class Frame:
    data: bytes
    complete: bool = True


class SyslogFramer:
    """Incremental RFC 6587 de-framing for one connection."""

    def __init__(self, max_bytes: int = 256 * 1024) -> None:
        self.max_bytes = max_bytes
        self.mode = Framing.UNKNOWN
        self._buf = bytearray()
        self._skip = 0  # octet mode: bytes of an over-long frame still to discard
        self._discarding = False  # newline mode: inside an over-long line
        self.switched = False  # a broken octet count made us fall back to newlines

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while True:
            if self.mode is Framing.UNKNOWN:
                stripped = self._buf.lstrip(b"\r\n\x00 ")
                del self._buf[: len(self._buf) - len(stripped)]
                if not self._buf:
                    return out
                self.mode = Framing.OCTET if self._buf[:1].isdigit() else Framing.NEWLINE
            frame = self._next_octet() if self.mode is Framing.OCTET else self._next_line()
            if frame is None:
                return out
            if frame.data or not frame.complete:
                out.append(frame)

    def _next_octet(self) -> Frame | None:
        if self._skip:
            take = min(self._skip, len(self._buf))
            del self._buf[:take]
            self._skip -= take
            if self._skip:
                return None
        while self._buf and self._buf[0] in b"\n\r\x00":  # tolerated between frames
            del self._buf[:1]
        if not self._buf:
            return None
        space = self._buf.find(b" ", 0, 12)
        if space < 0:
            if len(self._buf) >= 12 or not self._buf.isdigit():
                return self._fall_back()
            return None
        count = bytes(self._buf[:space])
        if not count.isdigit() or count.startswith(b"0"):
            return self._fall_back()
        length = int(count)
        start = space + 1
        if length > self.max_bytes:
            if len(self._buf) < start + self.max_bytes:
                return None
            frame = Frame(bytes(self._buf[start : start + self.max_bytes]), complete=False)
            consumed = min(len(self._buf), start + length)
            self._skip = start + length - consumed
            del self._buf[:consumed]
            return frame
        if len(self._buf) < start + length:
            return None
        frame = Frame(bytes(self._buf[start : start + length]))
        del self._buf[: start + length]
        return frame

    def _fall_back(self) -> Frame | None:
        self.mode = Framing.NEWLINE
        self.switched = True
        return self._next_line()

    def _next_line(self) -> Frame | None:
        newline = self._buf.find(b"\n")
        if self._discarding:
            if newline < 0:
                self._buf.clear()
                return None
            del self._buf[: newline + 1]
            self._discarding = False
            newline = self._buf.find(b"\n")
        if newline < 0:
            if len(self._buf) > self.max_bytes:
                frame = Frame(bytes(self._buf[: self.max_bytes]), complete=False)
                self._buf.clear()
                self._discarding = True
                return frame
            return None
        if newline > self.max_bytes:
            frame = Frame(bytes(self._buf[: self.max_bytes]), complete=False)
            del self._buf[: newline + 1]
            return frame
        line = bytes(self._buf[:newline]).rstrip(b"\r")
        del self._buf[: newline + 1]
        return Frame(line)

    def close(self) -> list[Frame]:
        """What is left when the sender hangs up: a last unterminated line, or a cut frame."""
        rest = bytes(self._buf).strip(b"\r\n\x00")
        self._buf.clear()
        if not rest or self._discarding or self._skip:
            return []
        if self.mode is Framing.OCTET:
            return [Frame(rest, complete=False)]  # the count promised more than came
        return [Frame(rest)]


__all__ = ["Frame", "Framing", "SyslogFramer"]
