"""Layering, as import-linter contracts in pyproject.toml (core is pure,
sources reach pyroute2 only through the kernel client, only the TUI imports
Textual, layers one way); and the scripted source is pure in a fresh
interpreter."""

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
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize("module", ["auditop.sources.scripted", "auditop.sources"])
def test_scripted_source_is_pure(module):
    loaded = loaded_after(f"import {module}")
    assert not loaded & {"pyroute2", "textual", "plotext"}
