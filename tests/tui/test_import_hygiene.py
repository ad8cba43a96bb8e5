"""Layering: the scripted source is pure (no pyroute2, no Textual), and only
auditop.tui imports Textual or plotext."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize("module", ["auditop.sources.scripted", "auditop.sources"])
def test_scripted_source_is_pure(module):
    loaded = loaded_after(f"import {module}")
    assert not loaded & {"pyroute2", "textual", "plotext"}


def test_only_the_tui_imports_textual():
    for path in (ROOT / "auditop").rglob("*.py"):
        if "tui" in path.relative_to(ROOT / "auditop").parts:
            continue
        text = path.read_text()
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and (
                    "textual" in stripped.split()[1] or "plotext" in stripped.split()[1]):
                assert "auditop.tui" in stripped, f"{path}: {stripped}"
