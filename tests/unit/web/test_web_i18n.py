from __future__ import annotations

import re
from importlib.resources import files

import pytest

from mamori.errors import ConfigError
from mamori.web.i18n import Catalogue, default_catalogue, pick_language
from mamori.web.nav import NAV_ITEMS


def test_japanese_and_english_define_the_same_keys():
    cat = default_catalogue()
    assert cat.keys("ja") == cat.keys("en")
    assert len(cat.keys("ja")) > 50


def test_every_key_used_by_templates_and_nav_exists():
    cat = default_catalogue()
    used = set()
    for template in (files("mamori.web") / "templates").iterdir():
        text = template.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\('([a-z_.]+[a-z_])'[,)]", text))
    used |= {item.label for item in NAV_ITEMS}
    used |= {f"role.{r}" for r in ("admin", "operator", "customer_admin", "customer_viewer")}
    used |= {"lang.ja", "lang.en", "login.failed", "login.locked", "error.csrf", "error.not_found"}
    assert used - cat.keys("ja") == set()


def test_placeholders_and_fallbacks():
    cat = Catalogue(
        {"ja": {"hi": "こんにちは {name}", "only": "日本語だけ"}, "en": {"hi": "Hi {name}"}}
    )
    assert cat.gettext("en", "hi", name="A") == "Hi A"
    assert cat.gettext("en", "only") == "日本語だけ"
    assert cat.gettext("en", "missing.key") == "missing.key"
    assert cat.gettext("ja", "hi", other="x") == "こんにちは {name}"


def test_pick_language():
    assert pick_language(None, "en", "ja") == "en"
    assert pick_language("fr", None) == "ja"
    assert pick_language() == "ja"


def _write(root, lang, name, text):
    folder = root / lang
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_bad_locale_files_are_refused(tmp_path):
    _write(tmp_path, "ja", "a.yaml", "k: v\n")
    _write(tmp_path, "ja", "b.yaml", "k: again\n")
    _write(tmp_path, "en", "a.yaml", "k: v\n")
    with pytest.raises(ConfigError, match="defined twice"):
        Catalogue.load(tmp_path)
    (tmp_path / "ja" / "b.yaml").write_text("other: yes\n")
    with pytest.raises(ConfigError, match="not text"):
        Catalogue.load(tmp_path)
    (tmp_path / "ja" / "b.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="not a mapping"):
        Catalogue.load(tmp_path)


def test_times_are_shown_in_japan_time_with_zone():
    from datetime import UTC, datetime

    from mamori.web.templating import localtime

    assert localtime(datetime(2026, 1, 1, 15, 30, tzinfo=UTC)) == "2026-01-02 00:30:00 JST"
    assert localtime(datetime(2026, 1, 1, 15, 30)) == "2026-01-02 00:30:00 JST"
    assert localtime(None) == "—"
