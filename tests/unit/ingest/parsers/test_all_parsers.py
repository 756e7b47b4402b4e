"""Contract tests over every registered parser (including ones added later)."""

import io
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mamori.ingest.parsers as parser_package
from mamori.ingest.base import ParseContext, Parser
from mamori.ingest.parsers import parsers
from mamori.model import Event, Quarantined
from mamori.testing import FakeSink

TESTS = Path(__file__).resolve().parent
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "logs"
PACKAGE = Path(parser_package.__file__).resolve().parent

# bytes that look a little like the formats, so the fuzzing goes past the first check
_TOKENS = st.sampled_from(
    [
        b"<13>",
        b"<165>1 ",
        b"Nov 25 10:00:00 ",
        b"2026-11-25T10:00:00Z ",
        b"host ",
        b"sshd[1]: ",
        b"type=SYSCALL msg=audit(1.0:1): ",
        b"IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 ",
        b'a="b" ',
        b'"GET / HTTP/1.1" ',
        b"[25/Nov/2026:10:00:00 +0900] ",
        b"TCP_MISS/200 ",
        b"postfix/smtp[1]: ",
        b"ABCDE12345: ",
        b"to=<a@b>, ",
        b"{",
        b"}",
        b"[",
        b'"k": ',
        b'"\\u0000"',
        b'["\\u0000"]',
        b"\n",
        b"\r\n",
        b"\x00",
        b"\xff",
        b"\xef\xbb\xbf",
        b" ",
        b"=",
        b"\\",
        b'"',
    ]
)
_INPUT = st.one_of(st.binary(max_size=2048), st.lists(_TOKENS, max_size=60).map(b"".join))


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _all_parsers() -> list[tuple[str, type[Parser]]]:
    return parsers.items()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_INPUT)
def test_no_parser_raises_on_arbitrary_bytes(data):
    for name, cls in _all_parsers():
        cls.sniff(data)  # must not raise either
        sink = FakeSink()
        cls().parse(io.BytesIO(data), sink, ParseContext(tenant="t", location="fuzz"))
        for event in sink.events:
            assert isinstance(event, Event) and event.source == name
            event.to_json().encode("utf-8")  # serialisable, no lone surrogates
            assert "\x00" not in event.raw
            assert not _has_nul(event.to_dict())  # databases refuse NUL in text
        for item in sink.quarantined:
            assert isinstance(item, Quarantined) and item.reason


def test_every_registered_parser_has_fixtures_and_a_test_module():
    """A test module per parser, and a fixture folder - unless the test module reads the
    shared third-party data (``shared_data`` fixture), which is never copied in."""
    missing = []
    for name, _cls in _all_parsers():
        test_module = TESTS / f"test_{name}.py"
        if not test_module.is_file():
            missing.append(f"tests/unit/ingest/parsers/test_{name}.py")
            continue
        fixture_dir = FIXTURES / name
        has_fixtures = fixture_dir.is_dir() and any(fixture_dir.iterdir())
        if not has_fixtures and "shared_data" not in test_module.read_text():
            missing.append(f"tests/fixtures/logs/{name}/")
    assert missing == []


def test_every_parser_module_is_imported_and_tested():
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    untested = sorted(m for m in modules if not (TESTS / f"test_{m}.py").is_file())
    assert untested == []
    # activation is the explicit import list of the package: every module is loaded by it
    inactive = sorted(m for m in modules if f"mamori.ingest.parsers.{m}" not in sys.modules)
    assert inactive == []


def test_every_parser_declares_its_contract():
    for name, cls in _all_parsers():
        assert name == cls.NAME
        assert ":" in cls.DATA_TYPE or cls.DATA_TYPE in ("syslog", "json")
        assert cls.__doc__, f"{name}: the class docstring says what the format is"
