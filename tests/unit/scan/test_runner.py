from __future__ import annotations

import pytest

from mamori.config import Settings
from mamori.scan.mail.gateway import MailGateway, MailGatewayConfig
from mamori.scan.runner import ServiceThread


class _Failing:
    async def start(self) -> None:
        raise OSError("address in use")

    async def stop(self) -> None:
        return None


def test_start_failure_reaches_the_caller():
    with pytest.raises(OSError, match="address in use"):
        ServiceThread(_Failing()).start()


def test_gateway_from_settings_keeps_state_in_data_dir(tmp_path, engine):
    audit = []
    settings = Settings(data_dir=tmp_path, secret_key="k")
    gateway = MailGateway.from_settings(
        settings, engine, MailGatewayConfig(port=0), audit=audit.append
    )
    with ServiceThread(gateway):
        assert gateway.port > 0
    item = gateway.quarantine.put(b"x", kind="mail")
    assert (tmp_path / "quarantine" / f"{item.id}.bin").exists()
    assert gateway.holds.root == tmp_path / "ppap"
    assert audit[0].action == "quarantine.quarantined"
