"""Verdicts: what a scan decided about one object, and why.

A :class:`Verdict` has an :class:`Outcome` (clean / blocked / quarantined / error) and the
:class:`Reason` list that led to it. Each reason has a :class:`Category`; the attachment policy
maps a category (or a reason code) to the outcome it causes. "error" never means "clean": a
scanner that fails yields a reason of category ``error`` whose outcome the policy decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """The decision, ordered from least to most severe (see :attr:`rank`)."""

    CLEAN = "clean"
    QUARANTINED = "quarantined"
    ERROR = "error"
    BLOCKED = "blocked"

    @property
    def rank(self) -> int:
        return _OUTCOME_ORDER.index(self)


_OUTCOME_ORDER = [Outcome.CLEAN, Outcome.QUARANTINED, Outcome.ERROR, Outcome.BLOCKED]


class Category(StrEnum):
    """What kind of finding a reason is; the policy maps each to an outcome."""

    MALWARE = "malware"  # a signature, rule or hash IOC matched
    POLICY = "policy"  # attachment policy: extension, Unicode trick, type mismatch
    MACRO = "macro"  # VBA macros in an Office document
    ENCRYPTED = "encrypted"  # content that could not be opened for scanning
    LIMIT = "limit"  # depth, member count, size or ratio limit reached
    MALFORMED = "malformed"  # truncated archive, broken MIME
    ERROR = "error"  # a scanner failed or timed out


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding.

    Attributes:
        category: the kind of finding.
        code: a stable machine code (``"blocked_extension"``, ``"signature"``...).
        detail: the specifics (rule or signature name, extension, limit value).
        scanner: which scanner or check produced it.
        path: where inside the object (``"a.zip/b.docm"``); empty for the object itself.
        outcome: the outcome the policy assigned to this reason.
        temporary: the failure may go away on retry (scanner unreachable).
    """

    category: Category
    code: str
    detail: str = ""
    scanner: str = ""
    path: str = ""
    outcome: Outcome = Outcome.QUARANTINED
    temporary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "code": self.code,
            "detail": self.detail,
            "scanner": self.scanner,
            "path": self.path,
            "outcome": self.outcome.value,
            "temporary": self.temporary,
            "message": describe(self, "en"),
            "message_ja": describe(self, "ja"),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of scanning one object (a file, a message part, an HTTP body)."""

    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    name: str = ""
    size: int = 0
    sha256: str = ""
    md5: str = ""  # only when a caller supplies it; MD5 IOCs are matched by the hash scanner
    detected_type: str = ""
    items_scanned: int = 0
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.outcome is Outcome.CLEAN

    @property
    def temporary_failure(self) -> bool:
        """A scanner could not be reached: retrying later may give a real answer."""
        return any(r.temporary for r in self.reasons)

    def summary(self, lang: str = "ja") -> str:
        """One line naming the outcome and the first reasons."""
        if not self.reasons:
            return "問題は見つかりませんでした" if lang == "ja" else "no findings"
        parts = [describe(r, lang) for r in self.reasons[:3]]
        more = len(self.reasons) - 3
        if more > 0:
            parts.append(f"他 {more} 件" if lang == "ja" else f"and {more} more")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "md5": self.md5,
            "detected_type": self.detected_type,
            "items_scanned": self.items_scanned,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "reasons": [r.to_dict() for r in self.reasons],
            **({"extra": self.extra} if self.extra else {}),
        }


def combine(outcomes: list[Outcome]) -> Outcome:
    """The most severe of ``outcomes`` (clean when empty)."""
    return max(outcomes, key=lambda o: o.rank, default=Outcome.CLEAN)


_MESSAGES: dict[str, tuple[str, str]] = {
    # code: (Japanese, English); {detail} and {path} are filled in
    "signature": ("マルウェアを検知しました: {detail}", "malware detected: {detail}"),
    "eicar": ("EICAR テストファイルを検知しました", "EICAR test file detected"),
    "hash_ioc": ("既知の悪性ハッシュに一致しました: {detail}", "known-bad hash matched: {detail}"),
    "blocked_extension": (
        "禁止された拡張子のファイルです: .{detail}",
        "blocked file extension: .{detail}",
    ),
    "double_extension": (
        "二重拡張子のファイル名です: {detail}",
        "double file extension: {detail}",
    ),
    "unicode_trick": (
        "ファイル名に紛らわしい Unicode 文字があります: {detail}",
        "deceptive Unicode characters in file name: {detail}",
    ),
    "type_mismatch": (
        "宣言された形式と実際の形式が一致しません: {detail}",
        "declared type does not match content: {detail}",
    ),
    "disguised_executable": (
        "実行ファイルが別の形式を装っています: {detail}",
        "executable disguised as another type: {detail}",
    ),
    "macro_extension": (
        "マクロ有効形式のファイルです: .{detail}",
        "macro-enabled file type: .{detail}",
    ),
    "vba_macro": ("VBA マクロを含みます: {detail}", "contains VBA macros: {detail}"),
    "encrypted": (
        "暗号化されていて検査できません: {detail}",
        "encrypted, cannot be scanned: {detail}",
    ),
    "depth_limit": (
        "アーカイブの入れ子が深すぎます (上限 {detail})",
        "archive nesting too deep (limit {detail})",
    ),
    "member_limit": (
        "アーカイブのファイル数が多すぎます (上限 {detail})",
        "too many archive members (limit {detail})",
    ),
    "size_limit": ("サイズが上限を超えています: {detail}", "size limit exceeded: {detail}"),
    "ratio_limit": (
        "圧縮率が異常です (ZIP 爆弾の疑い): {detail}",
        "suspicious compression ratio (zip bomb?): {detail}",
    ),
    "unsupported_archive": (
        "展開できない形式のアーカイブです: {detail}",
        "archive format that cannot be unpacked: {detail}",
    ),
    "corrupt_archive": (
        "アーカイブが壊れています: {detail}",
        "corrupt or truncated archive: {detail}",
    ),
    "malformed_mime": (
        "メールの MIME 構造が不正です: {detail}",
        "malformed MIME structure: {detail}",
    ),
    "scanner_error": ("スキャナーのエラー: {detail}", "scanner failure: {detail}"),
    "scanner_unavailable": (
        "スキャナーに接続できません: {detail}",
        "scanner unavailable: {detail}",
    ),
    "timeout": ("スキャンがタイムアウトしました: {detail}", "scan timed out: {detail}"),
}


def describe(reason: Reason, lang: str = "ja") -> str:
    """A person-readable sentence for ``reason`` in Japanese (``"ja"``) or English."""
    ja, en = _MESSAGES.get(reason.code, ("{code}: {detail}", "{code}: {detail}"))
    text = (ja if lang == "ja" else en).format(detail=reason.detail, code=reason.code)
    if reason.path:
        text += f" ({reason.path})"
    return text


__all__ = ["Category", "Outcome", "Reason", "Verdict", "combine", "describe"]
