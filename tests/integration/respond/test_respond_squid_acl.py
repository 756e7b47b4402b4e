"""The rendered Squid ACL files load in a real Squid (``squid -k parse``) without warnings."""

import shutil
import subprocess
from pathlib import Path

import pytest

from mamori.respond.blocklist import MemoryBlocklist, new_entry, render_squid
from mamori.respond.testing import T0

SQUID = shutil.which("squid") or next((p for p in ["/usr/sbin/squid"] if Path(p).exists()), None)


@pytest.mark.skipif(SQUID is None, reason="squid is not installed")
def test_squid_parses_rendered_acls(tmp_path):
    repo = MemoryBlocklist()
    for kind, value in [
        ("domain", "evil.example"),
        ("domain", "cdn.evil.example"),
        ("domain", "c2.test"),
        ("ip", "203.0.113.7"),
        ("ip", "198.51.100.0/24"),
        ("ip", "2001:db8::1"),
        ("url", "http://bad.example/a.b?x=1"),
    ]:
        repo.add(new_entry(kind, value, tenant="acme", reason="t", added_by="a", now=T0))
    files = render_squid(repo.list())
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    conf = tmp_path / "squid.conf"
    conf.write_text(
        "http_port 127.0.0.1:39129\n"
        f'acl mamori_block_domains dstdomain "{tmp_path}/mamori_block_domains.acl"\n'
        f'acl mamori_block_ips dst "{tmp_path}/mamori_block_ips.acl"\n'
        f'acl mamori_block_urls url_regex -i "{tmp_path}/mamori_block_urls.acl"\n'
        "http_access deny mamori_block_domains\nhttp_access deny mamori_block_ips\n"
        "http_access deny mamori_block_urls\nhttp_access deny all\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [SQUID, "-k", "parse", "-f", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "FATAL" not in output, output
