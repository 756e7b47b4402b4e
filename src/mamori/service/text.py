"""Bilingual text: Japanese first, English available."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mamori.errors import ValidationError

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")


@dataclass(frozen=True, slots=True)
class Text:
    """A user-facing string in Japanese and English."""

    ja: str
    en: str

    def get(self, lang: Lang = "ja") -> str:
        """The string in ``lang`` (Japanese unless asked otherwise)."""
        return self.en if lang == "en" else self.ja

    def both(self) -> str:
        """Japanese followed by English in parentheses, for machine output read by people."""
        if not self.en or self.en == self.ja:
            return self.ja
        return f"{self.ja} ({self.en})"

    def to_dict(self) -> dict[str, str]:
        return {"ja": self.ja, "en": self.en}


def check_lang(lang: str) -> Lang:
    """Validate a language code.

    Raises:
        ValidationError: when ``lang`` is neither ``"ja"`` nor ``"en"``.
    """
    if lang == "ja":
        return "ja"
    if lang == "en":
        return "en"
    raise ValidationError(f"unknown language {lang!r} (expected 'ja' or 'en')")


def yen(amount: int) -> str:
    """Format an amount of yen with thousands separators: ``1234567`` -> ``"1,234,567円"``."""
    return f"{amount:,}円"


__all__ = ["LANGS", "Lang", "Text", "check_lang", "yen"]
