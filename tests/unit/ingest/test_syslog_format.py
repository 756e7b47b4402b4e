from datetime import UTC, datetime

import pytest

from mamori.errors import ParseError
from mamori.ingest.syslog_format import looks_like_syslog, parse_syslog

REF = datetime(2026, 11, 25, tzinfo=UTC)


def test_bsd_header_without_hostname():
    msg = parse_syslog("<30>Nov 25 10:00:00 systemd[1]: Started x.", reference=REF)
    assert msg.hostname is None
    assert msg.app_name == "systemd"
    assert msg.message == "Started x."


def test_bsd_with_year_and_zone_and_ipv6_host():
    msg = parse_syslog("Nov 25 2026 10:00:00 JST fe80::1 app: x")
    assert msg.timestamp == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert msg.hostname == "fe80::1"


def test_hostname_that_looks_like_a_zone_is_a_hostname():
    msg = parse_syslog("Nov 25 10:00:00 MAIL postfix/smtpd[1]: x", reference=REF)
    assert msg.hostname == "MAIL"
    assert msg.app_name == "postfix/smtpd"


def test_rfc5424_without_message_and_sd_only():
    msg = parse_syslog('<14>1 2026-11-25T00:00:00Z h app 1 ID [a@1 k="v"]')
    assert msg.structured_data == {"a@1": {"k": "v"}}
    assert msg.message == ""
    empty = parse_syslog("<14>1 - - - - -")
    assert empty.timestamp is None and empty.hostname is None


@pytest.mark.parametrize(
    "line",
    [
        "<14>1 2026-11-25T00:00:00Z h a - - [x",
        "<14>1 2026-11-25T00:00:00Z h a - - [x k=v]",
        "<14>1 2026-11-25T00:00:00Z h a - - junk",
        "<200>x",
    ],
)
def test_broken_headers_raise(line):
    with pytest.raises(ParseError):
        parse_syslog(line)


def test_looks_like_syslog():
    assert looks_like_syslog("<1>x")
    assert looks_like_syslog("Jan  1 00:00:00 h x")
    assert not looks_like_syslog("Foo  1 00:00:00 h x")
    assert not looks_like_syslog("{}")
