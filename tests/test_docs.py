"""Docs that cannot drift: every setting, flag, variable and command is in the README."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from performer_edge.cli import build_parser
from performer_edge.config import SETTINGS, Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_every_setting_is_documented(setting) -> None:  # type: ignore[no-untyped-def]
    row = next(
        (line for line in README.splitlines() if line.startswith(f"| `{setting.name}` |")), None
    )
    assert row is not None, f"README has no row for setting {setting.name}"
    assert f"`{setting.flag}`" in row and f"`{setting.env}`" in row


def test_settings_table_and_dataclass_agree() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(Settings)}
    assert set(fields) == {s.name for s in SETTINGS}
    for setting in SETTINGS:
        assert fields[setting.name] == setting.default, setting.name


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        actions = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        if actions:
            for action_name in actions[0].choices:
                assert f"performer {name} {action_name}" in README, (name, action_name)
        else:
            assert f"performer {name}" in README, name
