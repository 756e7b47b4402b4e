"""PPAP: a password-protected ZIP in one mail, its password in the next.

Held archives are kept in the quarantine store (status ``held``, encrypted at rest); the hold
index lives as one JSON file per hold in a directory, so it survives a restart. When a later
mail from the same sender to the same recipients arrives, the gateway tries the passwords it
contains (:func:`candidate_passwords`), scans the opened contents and releases or blocks.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_KEYWORD = re.compile(
    r"(?:パスワード|ﾊﾟｽﾜｰﾄﾞ|暗証番号|解凍(?:キー|用)?|password|passwd|pass(?:code)?|pwd?|ＰＷ|PW)"
    r"\s*(?:は|:|：|=|＝)?\s*[「『\"'【(（]?\s*(?P<pw>[^\s\"'()<>\u3000-\uffff]{1,64})",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[!-~]{4,64}")
_TRAIM = "。、.,;；:：)）」』】\"'"


def candidate_passwords(text: str, limit: int = 30) -> list[str]:
    """Passwords a PPAP password mail probably contains, most likely first."""
    out: list[str] = []

    def add(value: str) -> None:
        for variant in (value, unicodedata.normalize("NFKC", value)):
            variant = variant.strip().strip(_TRAIM).strip()
            if variant and variant not in out and len(out) < limit:
                out.append(variant)

    normalised = unicodedata.normalize("NFKC", text)
    for source in (text, normalised):
        for match in _KEYWORD.finditer(source):
            add(match["pw"])
    for line in normalised.splitlines():
        for token in _TOKEN.findall(line):
            token = token.strip(_TRAIM)
            if token.lower() in {"password", "passwd", "pass"} or "@" in token or "://" in token:
                continue
            add(token)
    return out


@dataclass(frozen=True, slots=True)
class Hold:
    """A held message waiting for its password mail."""

    id: str  # the quarantine item id
    sender: str
    recipients: tuple[str, ...]
    created: str
    expires: str
    tenant: str | None = None

    @property
    def expired_at(self) -> datetime:
        return datetime.fromisoformat(self.expires)


def _norm(address: str) -> str:
    return address.strip().strip("<>").lower()


class HoldStore:
    """The on-disk index of held PPAP messages."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def add(
        self,
        item_id: str,
        *,
        sender: str,
        recipients: Iterable[str],
        hours: float,
        tenant: str | None = None,
        now: datetime | None = None,
    ) -> Hold:
        now = now or datetime.now(UTC)
        hold = Hold(
            id=item_id,
            sender=_norm(sender),
            recipients=tuple(sorted({_norm(r) for r in recipients})),
            created=now.isoformat(),
            expires=(now + timedelta(hours=hours)).isoformat(),
            tenant=tenant,
        )
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(hold), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / f"{item_id}.json")
        return hold

    def all(self) -> list[Hold]:
        out = []
        for path in sorted(self.root.glob("*.json")):
            try:
                data = json.loads(path.read_text("utf-8"))
                data["recipients"] = tuple(data["recipients"])
                out.append(Hold(**data))
            except (OSError, ValueError, TypeError, KeyError):
                continue
        return out

    def matching(
        self, sender: str, recipients: Iterable[str], *, now: datetime | None = None
    ) -> list[Hold]:
        """Unexpired holds from ``sender`` whose recipients all receive this mail too."""
        now = now or datetime.now(UTC)
        wanted = {_norm(r) for r in recipients}
        return [
            h
            for h in self.all()
            if h.sender == _norm(sender) and set(h.recipients) <= wanted and h.expired_at > now
        ]

    def expired(self, *, now: datetime | None = None) -> list[Hold]:
        now = now or datetime.now(UTC)
        return [h for h in self.all() if h.expired_at <= now]

    def remove(self, item_id: str) -> None:
        (self.root / f"{item_id}.json").unlink(missing_ok=True)


__all__ = ["Hold", "HoldStore", "candidate_passwords"]
