"""Consumer-side de-duplication by message (event) id.

At-least-once delivery means a consumer may see a message again after a crash or an
ack timeout. :class:`Deduplicator` remembers the last ``capacity`` ids; with a ``path`` it
also keeps them in an append-only journal, so the memory survives a restart.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path


class Deduplicator:
    """A bounded set of seen ids, optionally persisted."""

    def __init__(self, capacity: int = 1_000_000, path: Path | None = None) -> None:
        self.capacity = capacity
        self.path = path
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._journal_lines = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                for line in path.read_text(encoding="ascii", errors="ignore").splitlines():
                    if line:
                        self._remember(line)
                        self._journal_lines += 1
            self._fh = open(path, "a", encoding="ascii")  # noqa: SIM115 - kept open

    def _remember(self, msg_id: str) -> None:
        self._seen[msg_id] = None
        self._seen.move_to_end(msg_id)
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, msg_id: str) -> bool:
        """Remember ``msg_id``; True if it is new, False if it was seen before."""
        if msg_id in self._seen:
            return False
        self._remember(msg_id)
        if self.path is not None:
            self._fh.write(msg_id + "\n")
            self._journal_lines += 1
            if self._journal_lines > 2 * self.capacity:
                self._compact()
        return True

    def flush(self, *, fsync: bool = False) -> None:
        """Write the journal out (and to disk with ``fsync``)."""
        if self.path is not None:
            self._fh.flush()
            if fsync:
                os.fsync(self._fh.fileno())

    def _compact(self) -> None:
        assert self.path is not None  # noqa: S101 - only called with a journal
        self._fh.close()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(f"{i}\n" for i in self._seen), encoding="ascii")
        os.replace(tmp, self.path)
        self._fh = open(self.path, "a", encoding="ascii")  # noqa: SIM115
        self._journal_lines = len(self._seen)

    def close(self) -> None:
        if self.path is not None and not self._fh.closed:
            self.flush(fsync=True)
            self._fh.close()


__all__ = ["Deduplicator"]
