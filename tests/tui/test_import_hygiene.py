"""Layering, as import-linter contracts in pyproject.toml (core is pure,
sources reach pyroute2 only through the kernel client, only the TUI imports
Textual, layers one way); the scripted source is pure in a fresh
interpreter, and the live TUI starts without the other modes' modules."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "0 broken" in result.stdout


def loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["auditop.sources.scripted", "auditop.sources"])
def test_scripted_source_is_pure(module):
    loaded = {name.split(".")[0] for name in loaded_after(f"import {module}")}
    assert not loaded & {"pyroute2", "textual", "plotext"}


def test_the_live_tui_starts_without_the_simulator_and_the_replay_reader():
    """What `auditop` imports before its first frame: the other modes'
    modules only in their modes (docs/performance.md, the first frame)."""
    loaded = loaded_after("import auditop.cli, auditop.commands.tui, auditop.tui.app, "
                          "auditop.sources.live")
    assert "auditop.tui.app" in loaded and "auditop.sources.live" in loaded
    assert not loaded & {"auditop.sources.simulator", "auditop.sources.demo",
                         "auditop.sources.replay", "auditop.sources.recording", "plotext"}
