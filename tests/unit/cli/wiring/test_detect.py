"""The detection consumer as a background service of ``mamori up`` / ``mamori worker``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from mamori.bus.base import Message
from mamori.bus.embedded import EmbeddedBus
from mamori.bus.subjects import ALERTS_ALL, events_subject
from mamori.cli import runtime
from mamori.cli.runtime import BackgroundService, ServiceContext
from mamori.cli.wiring.detect import DetectService, make_detect, rule_cache_dir
from mamori.config import Settings
from mamori.model import Event
from mamori.testing import make_event

EVIL = "6f0a3e4e-0000-4000-8000-0000000000e1"


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", **kw)


def _custom_rules(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "evil.yml").write_text(
        f"title: Evil tool\nid: {EVIL}\nlogsource:\n  product: windows\n"
        "  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\evil.exe'\n"
        "  condition: sel\nlevel: critical\n",
        encoding="utf-8",
    )
    return folder


def _event(image: str) -> Event:
    return make_event(
        {
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventID": 1,
            "Image": image,
        },
        source="evtx",
        data_type="windows:evtx",
        tenant="acme",
    )


def test_the_factory_is_listed_and_runs_in_both_roles(tmp_path: Path) -> None:
    assert make_detect in runtime.SERVICE_FACTORIES
    settings = _settings(tmp_path)
    bus = EmbeddedBus(tmp_path / "spool")
    for role in ("up", "worker"):
        service = make_detect(ServiceContext(settings=settings, db=None, bus=bus, role=role))  # type: ignore[arg-type]
        assert isinstance(service, BackgroundService)
        assert service.name == "detect"
    assert make_detect(ServiceContext(settings=settings, db=None, bus=None)) is None  # type: ignore[arg-type]
    off = _settings(tmp_path, detect_enabled=False)
    assert make_detect(ServiceContext(settings=off, db=None, bus=bus)) is None  # type: ignore[arg-type]


def test_rules_dirs_setting_reads_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_RULES_DIRS", '["/srv/sigma", "/opt/rules"]')
    assert Settings().rules_dirs == [Path("/srv/sigma"), Path("/opt/rules")]


async def test_service_detects_with_bundled_and_user_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = _custom_rules(tmp_path / "rules")
    settings = _settings(tmp_path, rules_dirs=[tmp_path / "no-such-folder", rules])
    async with EmbeddedBus(tmp_path / "spool", fsync="never") as bus:
        service = DetectService(settings, bus)
        with caplog.at_level(logging.INFO):
            await service.start()
        try:
            events = [_event("C:\\x\\evil.exe"), _event("C:\\Windows\\notepad.exe")]
            await bus.publish_many(
                [
                    Message(events_subject("acme", "evtx"), e.to_json().encode(), e.id)
                    for e in events
                ]
            )
            assert service.consumer is not None
            await service.consumer.drain()
        finally:
            await service.stop()
        sub = await bus.subscribe(ALERTS_ALL, "t")
        got = [json.loads(d.message.data) for d in await sub.fetch(10, timeout=0.5)]
        assert [(a["rule_id"], a["level"]) for a in got] == [(EVIL, "critical")]
    assert "no-such-folder does not exist; skipped" in caplog.text
    cache = rule_cache_dir(settings)
    assert cache is not None and any(cache.glob("sigma-*.json"))  # compiled-rule cache
