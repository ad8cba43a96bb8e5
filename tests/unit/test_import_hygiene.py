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


@pytest.mark.parametrize("module", ["auditop.sources.replay", "auditop.sources.demo",
                                    "auditop.sources.simulator", "auditop.commands.tui",
                                    "auditop.commands.replay", "auditop.commands.plot",
                                    "auditop.commands.web", "auditop.commands.record"])
def test_replay_and_demo_import_neither_textual_nor_pyroute2(module):
    assert not loaded_after_import(module) & {"textual", "pyroute2", "plotext", "rich",
                                              "aiohttp", "textual_serve"}


def test_record_demo_and_plot_never_import_textual_or_pyroute2(tmp_path):
    """The headless commands that need no kernel pay for neither: run them
    and look at what they imported."""
    code = (
        "import sys, runpy\n"
        "from auditop import cli\n"
        f"cli.main(['record', '--demo', '--duration', '1.5', '-o', {str(tmp_path / 'd.jsonl')!r}])\n"
        f"cli.main(['plot', {str(tmp_path / 'd.jsonl')!r}, '--width', '60', '--height', '20'])\n"
        "print('MODULES', ' '.join(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    loaded = {name.split(".")[0] for name in out.split("MODULES", 1)[1].split()}
    assert "records lost per second" in out  # the plot was drawn
    assert "plotext" not in loaded  # by auditop itself (export/plot.py)
    assert not loaded & {"textual", "pyroute2", "aiohttp", "textual_serve"}
