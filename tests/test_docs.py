"""Docs that are tested: every setting and every CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from command_center.cli import app
from config.reference import render_reference, setting_keys

ROOT = Path(__file__).resolve().parent.parent


def _doc_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8")
                     for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def _command_paths(group, prefix: str = "") -> list[str]:
    # Typer vendors its own click: recognise groups by what they have, not by their class.
    paths = []
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            paths += _command_paths(cmd, path + " ")
        else:
            paths.append(path)
    return paths


def test_configuration_reference_is_current():
    on_disk = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert on_disk == render_reference(), (
        "docs/configuration.md is stale: run `command-center config docs > docs/configuration.md`")


def test_every_setting_has_a_description():
    text = render_reference()
    assert all(f"`{key}`" in text for key in setting_keys())
    undocumented = [line for line in text.splitlines()
                    if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not undocumented, undocumented


def test_every_cli_command_is_documented():
    root = typer.main.get_command(app)
    docs = _doc_text()
    missing = [p for p in _command_paths(root) if f"command-center {p}" not in docs]
    assert not missing, f"commands missing from README.md/docs/*.md: {missing}"


def test_every_cli_command_has_help():
    root = typer.main.get_command(app)

    def walk(group) -> list:
        out = []
        for cmd in group.commands.values():
            out += walk(cmd) if hasattr(cmd, "commands") else [cmd]
        return out

    assert all((cmd.help or "").strip() for cmd in walk(root))


def test_readme_names_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./run up" in readme and "./run test" in readme
    assert "./run test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
