"""Layering: only auditop/tui imports Textual, and only the kernel client
(and what samples the live kernel) imports pyroute2. Checked in a fresh
interpreter, since this test process has imported everything already."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = ["auditop.core.model", "auditop.core.history", "auditop.core.findings",
        "auditop.core.settings", "auditop.core.memory", "auditop.core.sampler",
        "auditop.core.monitor", "auditop.core.changes", "auditop.core.errors",
        "auditop.probes", "auditop.export.json", "auditop.export.check",
        "auditop.export.text", "auditop.sources", "auditop.core.errors",
        "auditop.changelog", "auditop.paths"]


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True,
                         capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_neither_textual_nor_pyroute2(module):
    loaded = loaded_after_import(module)
    assert not loaded & {"textual", "pyroute2", "plotext", "rich"}


def test_headless_cli_does_not_pay_for_textual():
    assert "textual" not in loaded_after_import("auditop.cli")
    assert "pyroute2" not in loaded_after_import("auditop.cli")
