"""Notifications about held, quarantined and released mail (Japanese first, English below)."""

from __future__ import annotations

import email.policy
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from mamori.scan.mail.relay import NextHop
from mamori.scan.verdict import Verdict

log = logging.getLogger(__name__)

_TEXT = {
    "quarantined": (
        "【mamori】メールを隔離しました",
        "次のメールは安全を確認できなかったため隔離されました。\n"
        "心当たりがあり受信が必要な場合は管理者に連絡してください (隔離 ID: {id})。",
        "[mamori] A message was quarantined",
        "The message below could not be verified as safe and was quarantined.\n"
        "Ask your administrator if you need it (quarantine id: {id}).",
    ),
    "held": (
        "【mamori】パスワード付き ZIP を保留しています",
        "次のメールはパスワード付きの圧縮ファイルを含むため保留しています。\n"
        "送信者からパスワードのメールが届くと、中身を検査して配送します。\n"
        "期限: {expires}",
        "[mamori] Password-protected archive on hold",
        "The message below carries a password-protected archive and is on hold. When the\n"
        "sender's password mail arrives, the contents are scanned and delivered. Until: {expires}",
    ),
    "blocked_after_password": (
        "【mamori】パスワード付き ZIP から危険なファイルを検知しました",
        "保留していたメールをパスワードで展開して検査した結果、配送を停止しました。\n"
        "(隔離 ID: {id})",
        "[mamori] Threat found in a password-protected archive",
        "The held message was opened with the password mail and blocked (quarantine id: {id}).",
    ),
    "refused": (
        "【mamori】一部の宛先に配送できませんでした",
        "次のメールは検査後に配送しましたが、以下の宛先は受信サーバーに拒否されました。\n{expires}",
        "[mamori] Delivery failed for some recipients",
        "The message below was scanned and delivered, but the receiving server refused:\n{expires}",
    ),
    "expired": (
        "【mamori】パスワード付き ZIP の保留期限が切れました",
        "パスワードのメールが期限内に届かなかったため、メールを隔離しました (隔離 ID: {id})。",
        "[mamori] Hold of a password-protected archive expired",
        "No password mail arrived in time; the message was quarantined (quarantine id: {id}).",
    ),
}


class Notifier(Protocol):
    def notify(
        self,
        kind: str,
        *,
        recipients: Sequence[str],
        item_id: str,
        subject: str,
        sender: str,
        verdict: Verdict | None = None,
        expires: str = "",
    ) -> None: ...


class SmtpNotifier:
    """Sends notices through the next hop, from ``postmaster@<hostname>``."""

    def __init__(self, next_hop: NextHop, *, sender: str) -> None:
        self.next_hop = next_hop
        self.sender = sender

    def notify(
        self,
        kind: str,
        *,
        recipients: Sequence[str],
        item_id: str,
        subject: str,
        sender: str,
        verdict: Verdict | None = None,
        expires: str = "",
    ) -> None:
        if not recipients:
            return
        ja_subject, ja_body, en_subject, en_body = _TEXT[kind]
        facts_ja = f"差出人: {sender}\n件名: {subject}\n"
        facts_en = f"From: {sender}\nSubject: {subject}\n"
        if verdict is not None and verdict.reasons:
            facts_ja += f"理由: {verdict.summary('ja')}\n"
            facts_en += f"Reason: {verdict.summary('en')}\n"
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = f"{ja_subject} / {en_subject}"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(
            ja_body.format(id=item_id, expires=expires)
            + "\n\n"
            + facts_ja
            + "\n----\n"
            + en_body.format(id=item_id, expires=expires)
            + "\n\n"
            + facts_en,
            charset="utf-8",
        )
        result = self.next_hop.send(
            self.sender, list(recipients), msg.as_bytes(policy=email.policy.SMTP)
        )
        if not result.ok:
            log.warning("notification %s for %s not delivered: %s", kind, item_id, result.reply())


__all__ = ["Notifier", "SmtpNotifier"]
