from datetime import timedelta

from mamori.respond.grouping import Grouper, chain_fits, normalise_tactics
from mamori.respond.testing import T0


def test_normalise_tactics_orders_and_drops_unknown():
    assert normalise_tactics(["impact", "initial-access", "nonsense", "Execution"]) == [
        "initial_access",
        "execution",
        "impact",
    ]


def test_chain_fits():
    assert chain_fits([], ["impact"])
    assert chain_fits(["execution"], [])
    assert chain_fits(["execution"], ["lateral_movement"])
    assert chain_fits(["execution", "discovery"], ["execution"])
    assert not chain_fits(["lateral_movement"], ["reconnaissance"])


def test_same_host_within_window_groups():
    g = Grouper(window=timedelta(minutes=30))
    g.remember("inc-1", "acme", "pc-01", None, ["execution"], T0)
    assert g.find("acme", "pc-01", None, ["persistence"], T0 + timedelta(minutes=10)) == "inc-1"
    assert g.find("acme", "PC-01", None, [], T0) == "inc-1"


def test_same_user_other_host_groups():
    g = Grouper()
    g.remember("inc-1", "acme", "pc-01", "ACME\\taro", [], T0)
    assert g.find("acme", "pc-09", "acme\\taro", [], T0) == "inc-1"


def test_no_group_across_tenant_window_or_chain():
    g = Grouper(window=timedelta(minutes=30))
    g.remember("inc-1", "acme", "pc-01", None, ["lateral_movement"], T0)
    assert g.find("beta", "pc-01", None, [], T0) is None
    assert g.find("acme", "pc-01", None, [], T0 + timedelta(minutes=31)) is None
    assert g.find("acme", "pc-01", None, ["reconnaissance"], T0) is None
    assert g.find("acme", "pc-02", None, [], T0) is None


def test_forget_and_bound():
    g = Grouper(max_incidents=3)
    for i in range(5):
        g.remember(f"inc-{i}", "acme", f"h{i}", None, [], T0)
    assert len(g) == 3
    assert g.find("acme", "h0", None, [], T0) is None
    g.forget("inc-4")
    assert g.find("acme", "h4", None, [], T0) is None
    assert g.find("acme", "h3", None, [], T0) == "inc-3"
