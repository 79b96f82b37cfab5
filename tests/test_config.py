"""Settings: sources merge file < env < flags; bad values name where they came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from performer_edge.config import load_settings, public_view
from performer_edge.errors import ConfigError


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text('port = 1\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    settings = load_settings(
        {"port": "3"}, environ={"PERFORMER_PORT": "2", "PERFORMER_HOST": "::1"}, config_file=config
    )
    assert (settings.port, settings.host, settings.log_level) == (3, "::1", "DEBUG")


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text("bus_queue_size = 7\n")
    assert load_settings(environ={"PERFORMER_CONFIG": str(config)}).bus_queue_size == 7
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={"PERFORMER_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port = true\n", "a boolean is not a number"),
        ("data = 5\n", "expected a path"),
        ("bus_queue_size = 0\n", "at least 1"),
        ("host = 1\n", "expected a string"),
    ],
)
def test_bad_values(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "p.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={}, config_file=config)


def test_secrets_are_masked() -> None:
    settings = load_settings(environ={"PERFORMER_JWT_SECRET": "s" * 40})
    assert settings.jwt_secret == "s" * 40
    assert public_view(settings)["jwt_secret"] == "********"


def test_repeatable_peers(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text('peer = ["http://a:1", "sse+http://b:2"]\n')
    assert load_settings(environ={}, config_file=config).peer == ("http://a:1", "sse+http://b:2")
    from_env = load_settings(environ={"PERFORMER_PEER": "http://a:1, http://c:3"})
    assert from_env.peer == ("http://a:1", "http://c:3")
    assert load_settings({"peer": ["http://d:4"]}, environ={}).peer == ("http://d:4",)
    config.write_text("peer = [1]\n")
    with pytest.raises(ConfigError, match="expected a list of strings"):
        load_settings(environ={}, config_file=config)
