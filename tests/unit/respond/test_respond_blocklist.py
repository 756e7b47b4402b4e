from datetime import timedelta

import pytest

from mamori.errors import NotFoundError, ValidationError
from mamori.respond.blocklist import (
    IndicatorKind,
    MemoryBlocklist,
    new_entry,
    normalise_indicator,
    render_nftables,
    render_rpz,
    render_squid,
)
from mamori.respond.testing import T0


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("ip", " 203.0.113.7 ", "203.0.113.7"),
        ("ip", "198.51.100.0/24", "198.51.100.0/24"),
        ("ip", "2001:db8::1", "2001:db8::1"),
        ("domain", "Evil.Example.COM.", "evil.example.com"),
        ("domain", "*.c2.example", "c2.example"),
        ("domain", "例え.jp", "xn--r8jz45g.jp"),
        ("hash", "D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
        ("url", "http://bad.example/x?y=1", "http://bad.example/x?y=1"),
    ],
)
def test_normalise(kind, value, expected):
    assert normalise_indicator(kind, value)[1] == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("ip", "999.1.1.1", "not an IP"),
        ("ip", "0.0.0.0/0", "block everything"),
        ("domain", "not a domain", "not a domain"),
        ("hash", "xyz", "not an MD5"),
        ("url", "ftp://x", "http"),
        ("asn", "1", "unknown indicator kind"),
    ],
)
def test_bad_indicators(kind, value, message):
    with pytest.raises(ValidationError, match=message):
        normalise_indicator(kind, value)


def _entries():
    repo = MemoryBlocklist()
    for kind, value in [
        ("ip", "203.0.113.7"),
        ("ip", "198.51.100.0/24"),
        ("ip", "2001:db8::1"),
        ("domain", "evil.example"),
        ("domain", "cdn.evil.example"),
        ("domain", "c2.test"),
        ("url", "http://bad.example/a.b"),
        ("hash", "d41d8cd98f00b204e9800998ecf8427e"),
    ]:
        repo.add(new_entry(kind, value, tenant="acme", reason="t", added_by="sato", now=T0))
    return repo


def test_repo_dedup_expiry_remove():
    repo = _entries()
    again = repo.add(
        new_entry("ip", "203.0.113.7", tenant="acme", reason="x", added_by="y", now=T0)
    )
    assert len([e for e in repo.list() if e.value == "203.0.113.7"]) == 1
    tmp = repo.add(
        new_entry(
            "ip",
            "192.0.2.1",
            tenant="acme",
            reason="x",
            added_by="y",
            now=T0,
            expires_at=T0 + timedelta(hours=1),
        )
    )
    assert tmp in repo.list(now=T0)
    assert tmp not in repo.list(now=T0 + timedelta(hours=2))
    repo.add(new_entry("domain", "global.example", tenant=None, reason="x", added_by="y", now=T0))
    assert any(e.tenant is None for e in repo.list(tenant="acme"))
    assert not any(e.tenant is None for e in repo.list(tenant="acme", include_global=False))
    repo.remove(again.id)
    with pytest.raises(NotFoundError):
        repo.remove(again.id)


def test_render_nftables():
    text = render_nftables(_entries().list())
    assert "set c2_v4 {" in text
    assert "elements = { 198.51.100.0/24, 203.0.113.7 }" in text
    assert "elements = { 2001:db8::1 }" in text
    assert "ip daddr @c2_v4 counter drop" in text
    assert text.startswith("table inet mamori\ndelete table inet mamori\n")
    empty = render_nftables([])
    assert "elements" not in empty


def test_render_rpz():
    text = render_rpz(_entries().list(), serial=7)
    assert "$ORIGIN rpz.mamori.local." in text
    assert "( 7 3600" in text
    assert "evil.example CNAME .\n*.evil.example CNAME ." in text
    assert "32.7.113.0.203.rpz-ip CNAME ." in text
    assert "24.0.100.51.198.rpz-ip CNAME ." in text
    assert "128.1.0.0.0.0.0.db8.2001.rpz-ip CNAME ." in text


def test_render_squid():
    files = render_squid(_entries().list())
    assert files["mamori_block_domains.acl"] == ".c2.test\n.evil.example\n"  # cdn.* covered
    assert "198.51.100.0/24\n" in files["mamori_block_ips.acl"]
    assert files["mamori_block_urls.acl"] == "^http://bad\\.example/a\\.b\n"
    assert IndicatorKind.HASH.value not in "".join(files.values())
