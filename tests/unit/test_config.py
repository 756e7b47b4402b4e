import os
import stat

import pytest

from mamori.config import Settings
from mamori.errors import ConfigError


def test_defaults_use_sqlite_under_data_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.is_sqlite
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'var' / 'mamori.db'}"
    assert (s.host, s.port, s.default_language) == ("127.0.0.1", 8000, "ja")


def test_environment_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_PORT", "9100")
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path / "d"))
    s = Settings()
    assert s.port == 9100
    assert s.data_dir == tmp_path / "d"


def test_toml_file_is_read_and_env_wins(tmp_path, monkeypatch):
    cfg = tmp_path / "mamori.toml"
    cfg.write_text('[mamori]\nport = 8100\nhost = "0.0.0.0"\n', encoding="utf-8")
    monkeypatch.setenv("MAMORI_CONFIG", str(cfg))
    monkeypatch.setenv("MAMORI_HOST", "127.0.0.2")
    s = Settings()
    assert s.port == 8100
    assert s.host == "127.0.0.2"


def test_broken_toml_is_a_config_error(tmp_path, monkeypatch):
    cfg = tmp_path / "mamori.toml"
    cfg.write_text("port = = 1", encoding="utf-8")
    monkeypatch.setenv("MAMORI_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings()


def test_missing_named_config_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMORI_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        Settings()


def test_bad_language_is_refused():
    with pytest.raises(ValueError, match="default_language"):
        Settings(default_language="fr")


def test_secret_key_generated_once_and_private(tmp_path):
    s = Settings(data_dir=tmp_path)
    key = s.ensure_secret_key()
    assert len(key) >= 40
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path).ensure_secret_key() == key


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_data_dir_is_one_line_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="not writable"):
        Settings(data_dir=ro / "sub").ensure_data_dir()


def test_data_dir_that_is_a_file_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="not writable"):
        Settings(data_dir=blocker / "sub").ensure_data_dir()
