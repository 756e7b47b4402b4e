import pytest

from mamori.bus.base import BusError
from mamori.bus.embedded import EmbeddedBus
from mamori.bus.factory import open_bus
from mamori.bus.jetstream import JetStreamBus


def test_engines_by_url(tmp_path):
    bus = open_bus("embedded", data_dir=tmp_path)
    assert isinstance(bus, EmbeddedBus) and bus.directory == tmp_path / "spool"
    other = open_bus(f"embedded:{tmp_path / 'x'}", data_dir=tmp_path, fsync="never")
    assert isinstance(other, EmbeddedBus) and other.directory == tmp_path / "x"
    nats = open_bus("nats://a:4222,nats://b:4222", data_dir=tmp_path, consumers={"p": "m.>"})
    assert isinstance(nats, JetStreamBus) and nats.servers == ["nats://a:4222", "nats://b:4222"]


def test_bad_urls_and_policies(tmp_path):
    with pytest.raises(BusError, match="unknown bus URL"):
        open_bus("kafka://x", data_dir=tmp_path)
    with pytest.raises(BusError, match="fsync"):
        open_bus("embedded", data_dir=tmp_path, fsync="sometimes")
