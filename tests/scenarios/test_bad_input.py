"""Scenario 5, bad input against the real kernel, with the lab's auditd
running and audit on: invalid values through `auditop set` and through the
TUI's exact-value dialog (negative, zero without the explicit flag, not a
number, above 2^32-1), and a value only the kernel itself can refuse. Each
gets a clear one-line error, and the kernel reads back unchanged (checked
with auditctl, the reference)."""

from __future__ import annotations

import asyncio
import time

import pytest

from auditop.kernel.client import AuditClient
from auditop.core.errors import InvalidValue
from auditop.sources.live import LiveSource
from auditop.tui.app import AuditopApp
from auditop.tui.screens.confirm import ConfirmScreen
from auditop.tui.screens.value import ValueScreen
from tests.kernel.conftest import run_auditop
from tests.scenarios.lab import CHECKED, auditctl_status

HZ = 250  # this machine's CONFIG_HZ; the kernel caps backlog_wait_time at 600 * HZ

CLI_CASES = {
    ("backlog_limit", "-5"): "cannot be negative",
    ("backlog_limit", "0"): "means unlimited",
    ("backlog_limit", "abc"): "must be a whole number",
    ("backlog_limit", "4294967296"): "must be at most 4294967295",
    ("backlog_limit", "+5"): "must be a whole number",
    ("backlog_limit", "5_000"): "must be a whole number",
    ("backlog_limit", "\u0663"): "must be a whole number",  # Arabic-Indic three
    ("rate_limit", "-1"): "cannot be negative",
    ("rate_limit", "1e3"): "must be a whole number",
    ("backlog_wait_time", str(600 * HZ + 1)): "must be at most",
    ("failure", "2"): "unknown field",  # auditop never sets failure
    ("enabled", "2"): "unknown field",  # ... nor enabled (2 locks until reboot)
}


def settings() -> dict[str, int]:
    status = auditctl_status()
    return {name: status[name] for name in CHECKED if name != "lost"}


@pytest.mark.parametrize("field, value", list(CLI_CASES))
def test_set_refuses_with_one_clear_line_and_the_kernel_is_unchanged(lab, field, value):
    before = settings()
    result = run_auditop("set", field, value, "--yes")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("auditop: ") and result.stderr.count("\n") == 1
    assert CLI_CASES[field, value] in result.stderr
    assert "Traceback" not in result.stderr
    assert settings() == before


# Odd command lines a new user types: each gets one line and exit 2 (3 for
# `check`, which monitoring systems read as UNKNOWN), never a traceback.
ODD_COMMAND_LINES = [
    ["--"], ["set", "backlog_limit", "--", "--5"], ["set", "backlog_limit", "9" * 5000],
    ["set", "backlog_limit", "--", "-0"], ["set", "backlog_limit", " "],
    ["set", "backlog_limit", "0x10"], ["set", "backlog_limit", "1.5"],
    ["set", "backlog_limit", "12abc"], ["set", "backlog_limit", "٣٣"],
    ["set", "backlog_limit"], ["set"], ["set", "--", "--", "--"],
    ["set", "backlog_wait_time", "-1"], ["set", "rate_limit", "nan"],
    ["record", "--sample-rate", "1e-300", "--duration", "1"],
    ["record", "--sample-rate", "1e300", "--duration", "1"],
    ["record", "--duration", "inf"], ["record", "--duration", "-1"],
    ["record", "--interval", "nan", "--duration", "1"],
    ["--interval", "0"], ["--sample-rate", "-3"], ["--sample-rate", "9" * 400],
    ["status", "--window", "1e309"], ["status", "--window", "0"],
    ["status", "--bogus"], ["bogus"], ["--read-only", "extra"],
]
ODD_CHECK_LINES = [["check", "--bogus"], ["check", "--window", "nan"], ["check", "x"]]


def test_odd_command_lines_get_one_line_and_change_nothing(lab):
    before = settings()
    for argv in ODD_COMMAND_LINES:
        result = run_auditop(*argv)
        assert result.returncode == 2, (argv[:4], result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (argv[:4], result.stderr)
        assert result.stderr.count("\n") == 1, (argv[:4], result.stderr)
        assert len(result.stderr) < 300, (argv[:4], result.stderr)
    for argv in ODD_CHECK_LINES:
        result = run_auditop(*argv)
        assert result.returncode == 3, (argv, result.stdout, result.stderr)
        assert result.stdout.startswith("AUDIT UNKNOWN - usage:"), (argv, result.stdout)
        assert result.stdout.count("\n") == 1 and not result.stderr
    assert settings() == before


def test_a_value_only_the_kernel_refuses_is_reported_and_changes_nothing(lab):
    """auditop's own check knows the cap only when it can read HZ; the kernel
    is the last word: EINVAL, reported as such, nothing changed."""
    before = settings()
    with AuditClient() as client:
        with pytest.raises(InvalidValue, match="the kernel rejected the value: "
                                               f"backlog_wait_time = {600 * HZ + 1}"):
            client.set("backlog_wait_time", 600 * HZ + 1)
        # The top of the range is taken and read back, then put back.
        assert client.set("backlog_wait_time", 600 * HZ).acked
        assert client.get_status().backlog_wait_time == 600 * HZ
        client.set("backlog_wait_time", before["backlog_wait_time"])
    assert settings() == before


DIALOG_CASES = {
    "-5": "cannot be negative",
    "0": "means unlimited",
    "abc": "must be a whole number",
    "4294967296": "must be at most 4294967295",
}


async def test_the_tui_dialog_refuses_bad_values_on_the_live_kernel(lab, tmp_path):
    before = await asyncio.to_thread(settings)
    log = tmp_path / "changes.jsonl"
    app = AuditopApp(source_factory=LiveSource, interval=0.5, change_log=log)
    shown = {}
    async with app.run_test(size=(80, 24)) as pilot:
        end = time.monotonic() + 5
        while app.history.last_answered is None and time.monotonic() < end:
            await pilot.pause(0.05)
        assert app.history.last_answered is not None, "no answer from the kernel"
        for typed, expected in DIALOG_CASES.items():
            await pilot.press("b")
            assert isinstance(app.screen, ValueScreen)
            await pilot.press(*typed)
            await pilot.press("enter")
            await pilot.pause(0.1)
            # Still in the dialog, never at the confirmation, with the reason.
            assert isinstance(app.screen, ValueScreen), typed
            assert not isinstance(app.screen, ConfirmScreen)
            error = app.screen.query_one("#value-error").render().plain
            shown[typed] = error
            assert expected in error, (typed, error)
            await pilot.press("escape")
            assert not isinstance(app.screen, ValueScreen)
        await pilot.press("q")
    lab.note(dialog_errors=shown)
    assert not log.exists()  # nothing was even attempted
    assert await asyncio.to_thread(settings) == before
