"""The alert rules load (`promtool check rules`) and behave as their unit tests
say (`promtool test rules`). promtool comes with Debian's `prometheus` package,
which .ci/run installs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "prometheus" / "auditop.rules.yml"
TESTS = Path(__file__).resolve().parent / "auditop.rules.test.yml"
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install -y prometheus; .ci/run does it)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


@needs_promtool
def test_rules_are_valid():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


@needs_promtool
def test_rules_unit_tests_pass():
    result = promtool("test", "rules", str(TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_not_firing():
    # Plain text, not YAML: the test extra has no YAML parser.
    alerts = re.findall(r"^\s*- alert: (\w+)$", RULES.read_text(), re.MULTILINE)
    cases = re.findall(r"alertname: (\w+)\n\s*exp_alerts:(.*)", TESTS.read_text())
    assert len(alerts) == 8
    for alert in alerts:
        outcomes = {rest.strip() == "[]" for name, rest in cases if name == alert}
        assert outcomes == {True, False}, f"{alert}: needs a firing and a quiet case"


def test_every_alert_has_a_severity_summary_and_description():
    for block in RULES.read_text().split("- alert: ")[1:]:
        name = block.split()[0]
        assert re.search(r"severity: (warning|critical)\n", block), name
        assert "summary:" in block and "description:" in block, name


def test_rules_use_only_metrics_the_exporter_exposes():
    from auditop.export.prometheus import _FAMILIES
    exposed = {name + ("_total" if kind == "counter" else "") for name, kind, _ in _FAMILIES}
    used = set(re.findall(r"\bauditop_[a-z_]+\b", RULES.read_text()))
    assert used <= exposed, used - exposed
