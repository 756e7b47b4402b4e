"""Keys the service templates build at run time exist in Japanese and English."""

from __future__ import annotations

from mamori.service.insurance import SECTIONS
from mamori.service.onboarding import Stage
from mamori.service.recommend import NetworkSize
from mamori.web.i18n import default_catalogue


def test_dynamic_service_keys_exist_in_both_languages():
    wanted = {f"service.stage.{s.value}" for s in Stage}
    wanted |= {f"service.network.{n.value}" for n in NetworkSize}
    wanted |= {f"service.section_{section}" for section in SECTIONS}
    wanted |= {"dashboard.service_cases", "nav.service"}
    cat = default_catalogue()
    for lang in ("ja", "en"):
        assert wanted - cat.keys(lang) == set(), lang
    assert cat.gettext("ja", "nav.service") == "サービス"
    assert cat.gettext("en", "service.stage.provisioned") == "Provisioned"
