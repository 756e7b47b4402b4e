"""A small message catalogue: ``locales/<lang>/*.yaml`` files of flat ``key: text`` pairs.

Japanese (``ja``) is the default and the fallback. Each area adds its own file
(``locales/ja/<area>.yaml`` and ``locales/en/<area>.yaml``); a key defined twice is an error.
Texts may use ``{name}`` placeholders, filled from keyword arguments.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable

import yaml

from mamori.errors import ConfigError

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"


class Catalogue:
    """Messages per language, with fallback to Japanese and then to the key itself."""

    def __init__(self, messages: dict[str, dict[str, str]]) -> None:
        self.messages = messages

    @classmethod
    def load(cls, root: Traversable | None = None) -> Catalogue:
        """Read every ``<lang>/*.yaml`` under ``root`` (the package's ``locales``).

        Raises:
            ConfigError: a file is not a flat mapping of strings, or a key is duplicated.
        """
        root = root or files("mamori.web") / "locales"
        messages: dict[str, dict[str, str]] = {}
        for lang in LANGUAGES:
            table: dict[str, str] = {}
            folder = root / lang
            entries = sorted(
                (e for e in folder.iterdir() if e.name.endswith(".yaml")), key=lambda e: e.name
            )
            for entry in entries:
                data = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
                if not isinstance(data, dict):
                    raise ConfigError(f"locale file {lang}/{entry.name} is not a mapping")
                for key, text in data.items():
                    if not isinstance(key, str) or not isinstance(text, str):
                        raise ConfigError(f"locale file {lang}/{entry.name}: {key!r} is not text")
                    if key in table:
                        raise ConfigError(f"locale key {key!r} defined twice for {lang}")
                    table[key] = text
            messages[lang] = table
        return cls(messages)

    def gettext(self, lang: str, key: str, **values: object) -> str:
        text = self.messages.get(lang, {}).get(key)
        if text is None:
            text = self.messages.get(DEFAULT_LANGUAGE, {}).get(key, key)
        if values:
            try:
                return text.format(**values)
            except (KeyError, IndexError, ValueError):
                return text
        return text

    def keys(self, lang: str) -> set[str]:
        return set(self.messages.get(lang, {}))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return Catalogue.load()


def pick_language(*candidates: str | None) -> str:
    """The first candidate that is a supported language, else Japanese."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Catalogue", "default_catalogue", "pick_language"]
