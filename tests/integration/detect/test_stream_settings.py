"""Settings of the streaming detector (cli/wiring/detect): placeholder values, state file."""

from __future__ import annotations

import logging

from mamori.cli.wiring.detect import correlation_state_path, stream_placeholders
from mamori.config import Settings


def test_settings_and_file_merge(tmp_path, monkeypatch):
    values = tmp_path / "placeholders.yml"
    values.write_text("admins: [root]\nservers: [dc01, dc02]\n")
    monkeypatch.setenv("MAMORI_DETECT_PLACEHOLDERS", '{"%admins%": ["alice", "bob"]}')
    monkeypatch.setenv("MAMORI_DETECT_PLACEHOLDERS_FILE", str(values))
    settings = Settings(data_dir=tmp_path / "var")
    assert stream_placeholders(settings) == {
        "admins": ["alice", "bob"],
        "servers": ["dc01", "dc02"],
    }


def test_none_by_default(tmp_path):
    assert stream_placeholders(Settings(data_dir=tmp_path / "var")) == {}


def test_a_bad_file_or_value_is_logged_and_left_out(tmp_path, caplog):
    broken = tmp_path / "placeholders.yml"
    broken.write_text("admins: [root\n")
    settings = Settings(
        data_dir=tmp_path / "var",
        detect_placeholders_file=broken,
        detect_placeholders={"servers": ["dc01"]},
    )
    with caplog.at_level(logging.ERROR, logger="mamori.cli.wiring.detect"):
        assert stream_placeholders(settings) == {"servers": ["dc01"]}
    assert "placeholder file skipped" in caplog.text

    bad_name = Settings(data_dir=tmp_path / "var", detect_placeholders={"bad name": ["x"]})
    with caplog.at_level(logging.ERROR, logger="mamori.cli.wiring.detect"):
        assert stream_placeholders(bad_name) == {}
    assert "placeholder settings skipped" in caplog.text


def test_missing_file_is_logged(tmp_path, caplog):
    settings = Settings(
        data_dir=tmp_path / "var", detect_placeholders_file=tmp_path / "missing.yml"
    )
    with caplog.at_level(logging.ERROR, logger="mamori.cli.wiring.detect"):
        assert stream_placeholders(settings) == {}
    assert "cannot read" in caplog.text


def test_correlation_state_lives_in_the_data_dir(tmp_path):
    path = correlation_state_path(Settings(data_dir=tmp_path / "var"))
    assert path == tmp_path / "var" / "state" / "detect-correlation.json"
