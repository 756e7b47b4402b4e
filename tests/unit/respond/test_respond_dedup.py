from datetime import timedelta

import pytest

from mamori.respond.dedup import Deduplicator
from mamori.respond.testing import T0, make_alert


def test_same_rule_host_fields_fold_within_window():
    d = Deduplicator(window=timedelta(minutes=5))
    a = make_alert()
    key = d.key(a)
    assert d.lookup(key, T0) is None
    d.remember(key, "alr-1", T0)
    assert (
        d.lookup(d.key(make_alert(ts=T0 + timedelta(minutes=4))), T0 + timedelta(minutes=4))
        == "alr-1"
    )
    # past the window: a new record
    assert d.lookup(key, T0 + timedelta(minutes=6)) is None


def test_key_differs_by_host_rule_tenant_and_matched_fields():
    d = Deduplicator()
    base = d.key(make_alert())
    assert d.key(make_alert(host="pc-02")) != base
    assert d.key(make_alert(rule_id="r-2")) != base
    assert d.key(make_alert(tenant="beta")) != base
    assert d.key(make_alert(matched={"Image": "C:\\other.exe"})) != base
    assert d.key(make_alert(host="PC-01")) == base


def test_configured_key_fields_per_rule():
    d = Deduplicator(key_fields={"r-1": ["CommandLine"]})
    a = make_alert(event={"CommandLine": "x"}, matched={"Image": "a"})
    b = make_alert(event={"CommandLine": "x"}, matched={"Image": "b"})
    c = make_alert(event={"CommandLine": "y"}, matched={"Image": "a"})
    assert d.key(a) == d.key(b) != d.key(c)


def test_memory_is_bounded():
    d = Deduplicator(max_keys=100)
    for i in range(1000):
        d.remember(f"k{i}", f"alr-{i}", T0)
    assert len(d) == 100
    assert d.lookup("k0", T0) is None
    assert d.lookup("k999", T0) == "alr-999"


def test_expired_keys_are_pruned_as_time_moves():
    d = Deduplicator(window=timedelta(minutes=1))
    for i in range(50):
        d.remember(f"k{i}", f"a{i}", T0)
    d.remember("late", "z", T0 + timedelta(minutes=10))
    assert len(d) == 1


def test_max_keys_must_be_positive():
    with pytest.raises(ValueError, match="max_keys"):
        Deduplicator(max_keys=0)
