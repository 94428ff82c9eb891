"""Strict settings: every bad key is named by its path and its source; secrets stay out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from command_center.cli import app
from config.settings import CONFIG_DIR, ConfigError, load_settings

runner = CliRunner()


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(CONFIG_DIR / "default.toml", tmp_path / "default.toml")
    monkeypatch.setenv("CC_CONFIG_DIR", str(tmp_path))
    return tmp_path


def _problems(config_dir: Path) -> dict[str, tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_settings(config_dir)
    return {key: (msg, src) for key, msg, src in info.value.problems}


def test_shipped_defaults_are_valid():
    s = load_settings(CONFIG_DIR)
    assert s.district.adcode == "511002"
    assert s.database.url is None


def test_unknown_key_named_with_path_and_file(config_dir):
    (config_dir / "local.toml").write_text("[database]\npool_sise = 3\n")
    problems = _problems(config_dir)
    assert "database.pool_sise" in problems
    assert problems["database.pool_sise"][1] == "local.toml"


def test_every_error_reported_not_only_the_first(config_dir):
    (config_dir / "local.toml").write_text(
        "[demo]\ngrids = 1\n[ui]\nlanguage = 'fr'\n[unknown_section]\nx = 1\n")
    problems = _problems(config_dir)
    assert {"demo.grids", "ui.language", "unknown_section"} <= set(problems)


def test_password_in_file_is_refused_and_not_echoed(config_dir):
    (config_dir / "local.toml").write_text(
        "[database]\nurl = 'postgresql://cc:s3cr3t-pw@db.example/cc'\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_dir)
    assert "database.url" in str(info.value)
    assert "s3cr3t-pw" not in str(info.value)


def test_cc_database_url_shortcut(config_dir, monkeypatch):
    monkeypatch.setenv("CC_DATABASE_URL", "postgresql://cc:pw@db.example:5433/cc")
    s = load_settings(config_dir)
    assert s.database.url is not None
    assert s.database.url.get_secret_value().endswith("db.example:5433/cc")
    assert "pw" not in repr(s)


def test_environment_beats_file_and_is_named_on_error(config_dir, monkeypatch):
    (config_dir / "local.toml").write_text("[database]\npool_size = 7\n")
    monkeypatch.setenv("CC_DATABASE__POOL_SIZE", "9")
    assert load_settings(config_dir).database.pool_size == 9
    monkeypatch.setenv("CC_DATABASE__POOL_SIZE", "0")
    problems = _problems(config_dir)
    assert problems["database.pool_size"][1] == "$CC_DATABASE__POOL_SIZE"


def test_toml_syntax_error_names_file(config_dir):
    (config_dir / "broken.toml").write_text("[database\n")
    problems = _problems(config_dir)
    assert problems["<file>"][1] == "broken.toml"


def test_cli_validate_exit_codes(config_dir):
    ok = runner.invoke(app, ["config", "validate"])
    assert ok.exit_code == 0, ok.output
    (config_dir / "local.toml").write_text("[local_db]\nport = 99999\n")
    bad = runner.invoke(app, ["config", "validate"])
    assert bad.exit_code == 1
    assert "local_db.port" in bad.output


def test_cli_show_masks_secrets(config_dir, monkeypatch):
    monkeypatch.setenv("CC_DATABASE_URL", "postgresql://cc:topsecret@db.example/cc")
    out = runner.invoke(app, ["config", "show"])
    assert out.exit_code == 0
    assert "topsecret" not in out.output
    assert '"adcode": "511002"' in out.output
