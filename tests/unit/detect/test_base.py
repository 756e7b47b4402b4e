from __future__ import annotations

from mamori.detect.base import Detector, detectors
from mamori.detect.engine import SigmaEngine
from mamori.model import Alert, Event, Severity
from mamori.testing import FakeSink, make_event


def test_sigma_engine_is_registered():
    assert detectors.get("sigma") is SigmaEngine


def test_custom_detector_contract():
    class Always(Detector):
        NAME = "always_test"

        def match(self, event: Event, *, source_file: str | None = None) -> list[Alert]:
            return [
                Alert(rule_id="x", rule_title="X", level=Severity.LOW, timestamp=event.timestamp)
            ]

    sink = FakeSink()
    detector = Always()
    assert detector.process(make_event({"a": 1}), sink) == 1
    assert detector.flush() == []
    assert [a.rule_id for a in sink.alerts] == ["x"]
