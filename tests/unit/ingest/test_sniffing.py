import pytest

from mamori.ingest.sniffing import guess_parser, parser_order

FORMATS = [
    "auditd",
    "json_lines",
    "netfilter",
    "postfix",
    "squid",
    "syslog",
    "utm_kv",
    "web_access",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_fixture_is_recognised_as_its_own_format(fmt, fixture_data):
    assert guess_parser(fixture_data(fmt)) == fmt


def test_unknown_data_is_not_guessed():
    assert guess_parser(b"\x00\x01\x02 binary junk") is None
    assert guess_parser(b"") is None


def test_broad_parsers_come_last():
    names = [name for name, _ in parser_order()]
    assert names.index("syslog") > names.index("postfix")
    assert names.index("json_lines") > names.index("auditd")
