from __future__ import annotations

import pytest

from mamori.detect.sigma.pipelines import LogsourceMap, default_logsources
from mamori.errors import RuleError
from mamori.testing import make_event

from ..conftest import rule_yaml, sysmon_event  # noqa: TID252 - shared test helpers


def test_process_creation_has_sysmon_and_security_variants():
    variants = default_logsources().variants_for(("windows", "process_creation", None))
    routes = {(v.route.channels, v.route.event_ids) for v in variants}
    assert (("microsoft-windows-sysmon/operational",), (1,)) in routes
    assert (("security",), (4688,)) in routes
    security = next(v for v in variants if v.route.channels == ("security",))
    assert security.fields["Image"] == "NewProcessName"
    assert security.pipeline(("windows", "process_creation", None)).items


def test_unknown_logsource_is_refused():
    with pytest.raises(RuleError, match="cannot be mapped"):
        default_logsources().variants_for(("windows", "antivirus", None))


def test_security_4688_gets_renamed_fields(engine_for):
    engine = engine_for(rule_yaml("sel:\n  Image|endswith: '\\evil.exe'\ncondition: sel"))
    security = make_event(
        {"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\evil.exe"},
        data_type="windows:evtx",
    )
    assert engine.match(security)
    # the Sysmon field name on a Security event does not match (no cross-talk)
    wrong = make_event(
        {"Channel": "Security", "EventID": 4688, "Image": "C:\\evil.exe"}, data_type="windows:evtx"
    )
    assert not engine.match(wrong)
    assert engine.match(sysmon_event({"Image": "C:\\evil.exe"}))
    # same fields, other event id: routed away
    assert not engine.match(sysmon_event({"Image": "C:\\evil.exe"}, eid=11))


def test_service_routes_by_channel(engine_for):
    engine = engine_for(
        rule_yaml(
            "sel:\n  EventID: 7045\ncondition: sel", logsource="product: windows\n  service: system"
        )
    )
    assert engine.match(make_event({"Channel": "System", "EventID": 7045}))
    assert not engine.match(make_event({"Channel": "Security", "EventID": 7045}))


def test_web_rules_route_by_data_type(engine_for):
    engine = engine_for(
        rule_yaml(
            "sel:\n  cs-uri-query|contains: '/etc/passwd'\ncondition: sel",
            logsource="category: webserver",
        )
    )
    hit = make_event({"cs-uri-query": "?f=../../etc/passwd"}, data_type="web:apache:access")
    assert engine.match(hit)
    other = make_event({"cs-uri-query": "?f=../../etc/passwd"}, data_type="auth:sshd")
    assert not engine.match(other)


def test_custom_map():
    data = {"generic": [{"product": "acme", "data_types": ["acme"], "fields": {"a": "b"}}]}
    variants = LogsourceMap(data).variants_for(("acme", None, None))
    assert variants[0].route.data_types == ("acme",)


def test_linux_rules_reach_the_ingest_parsers_events(engine_for):
    """data_types as the ingest parsers write them (auth:sshd, linux:auditd, proxy:squid...)."""
    sshd = rule_yaml(
        "kw:\n  - 'Failed password'\ncondition: kw", logsource="product: linux\n  service: sshd"
    )
    engine = engine_for(sshd)
    hit = make_event({"message": "Failed password for root from 192.0.2.1"}, data_type="auth:sshd")
    assert engine.match(hit)
    assert not engine.match(make_event({"message": "Failed password"}, data_type="web:access"))
    proxy = rule_yaml(
        "sel:\n  c-uri|contains: '/evil'\ncondition: sel", logsource="category: proxy"
    )
    engine = engine_for(proxy)
    assert engine.match(make_event({"c-uri": "http://x/evil"}, data_type="proxy:squid"))
    fw = rule_yaml("sel:\n  dst_port: 4444\ncondition: sel", logsource="category: firewall")
    engine = engine_for(fw)
    assert engine.match(make_event({"dst_port": 4444}, data_type="firewall:netfilter"))
