import pytest

from mamori.errors import ConfigError, NotFoundError
from mamori.ingest.config import IngestConfig, SenderRule, SyslogConfig

TOML = """
[mamori.ingest.bus]
url = "embedded"
max_bytes = 1000000

[mamori.ingest.syslog]
tcp_port = 6601
default_tenant = "shared"

[[mamori.ingest.syslog.senders]]
network = "10.1.0.0/16"
tenant = "acme"
source = "fortigate"

[[mamori.ingest.syslog.senders]]
cn = "*.beta.example.jp"
tenant = "beta"

[mamori.ingest.sources.fortigate]
parser = "utm_kv"
options = { timezone = "Asia/Tokyo" }

[mamori.ingest.parser_options.syslog]
timezone = "+09:00"
"""


def test_load_from_toml_and_resolve_senders(tmp_path):
    path = tmp_path / "mamori.toml"
    path.write_text(TOML)
    cfg = IngestConfig.load(path)
    assert cfg.bus.max_bytes == 1_000_000
    assert cfg.syslog.tcp_port == 6601
    rule = cfg.syslog.resolve("10.1.2.3", None)
    assert (rule.tenant, rule.source) == ("acme", "fortigate")
    assert cfg.syslog.resolve("10.1.2.3", "fw.beta.example.jp").tenant == "beta"  # CN first
    assert cfg.syslog.resolve("192.0.2.1", None).tenant == "shared"
    assert cfg.source("fortigate").options == {"timezone": "Asia/Tokyo"}
    assert cfg.source("syslog").options == {"timezone": "+09:00"}


def test_unknown_sender_without_default_is_refused():
    cfg = SyslogConfig(senders=[SenderRule(network="10.0.0.0/8", tenant="a")])
    assert cfg.resolve("192.0.2.1", None) is None
    assert cfg.resolve("not-an-ip", None) is None


def test_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="does not exist"):
        IngestConfig.load(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mamori.ingest")
    with pytest.raises(ConfigError, match="not valid TOML"):
        IngestConfig.load(bad)
    bad.write_text('[[mamori.ingest.syslog.senders]]\nnetwork = "10.0.0.300/8"\ntenant = "a"\n')
    with pytest.raises(ConfigError, match="not an IP network"):
        IngestConfig.load(bad)
    with pytest.raises(NotFoundError, match="unknown source"):
        IngestConfig().source("nope")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MAMORI_CONFIG", raising=False)
    assert IngestConfig.load() == IngestConfig()
