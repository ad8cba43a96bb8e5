"""auditd's own state report on the real machine: `status --auditd-state`
asks the lab's RUNNING auditd (3.0.9: SIGCONT, written to
/var/run/auditd.state whatever `-c DIR` says) and shows what the file says;
a stopped auditd is never signalled (SIGCONT would resume it): the request
is refused with the reason and auditd stays in state T."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from auditop.probes.auditd_state import STATE_PATH_3, STATE_PATH_4, parse_state
from tests.kernel.conftest import run_auditop
from tests.scenarios.lab import process_state

FIELDS = ("version", "priority", "writing_to_logs", "log_size", "max_log_size",
          "space_left_on_partition", "free_space", "space_left", "admin_space_left",
          "logging_suspended", "space_action_performed", "admin_space_action_performed",
          "disk_error", "plugins_active", "plugin_queue_depth", "plugin_queue_max_depth",
          "plugin_queue_size", "plugin_queue_overflow", "plugin_queueing_suspended",
          "listening")


@pytest.fixture
def state_files():
    """Remove the report files this test made (the machine had none before)."""
    before = {path: os.path.exists(path) for path in (STATE_PATH_3, STATE_PATH_4)}
    yield before
    for path, existed in before.items():
        if not existed and os.path.exists(path):
            os.remove(path)


def test_status_asks_the_running_auditd_and_shows_its_report(lab, state_files):
    pid = lab.auditd_pid
    assert process_state(pid) in ("S", "R")
    result = run_auditop("status", "--auditd-state", "--json")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["auditd_state_request"] == (
        f"asked auditd (pid {pid}) for a state report (SIGCONT)")
    shown = line["system"]["auditd_state"]
    assert shown is not None, line["system"]
    path = Path(shown["path"])
    assert str(path) == STATE_PATH_3
    assert 0 <= shown["age"] < 5
    written = parse_state(path.read_text(), str(path), path.stat().st_mtime)
    for field in FIELDS:
        assert shown[field] == getattr(written, field), field
    assert shown["mtime"] == written.mtime
    # The lab's auditd loads no plugins: no queue, nothing lost.
    assert (shown["plugins_active"], shown["plugin_queue_size"],
            shown["plugin_queue_overflow"]) == (0, 0, False)
    assert shown["writing_to_logs"] is True and shown["logging_suspended"] is False
    assert {"plugin-queue-filling", "plugin-queue-overflow", "auditd-logging-suspended"}.isdisjoint(
        f["id"] for f in line["findings"])
    assert process_state(pid) in ("S", "R")  # SIGCONT to a running auditd changes nothing

    text = run_auditop("status", "--auditd-state")
    assert text.returncode == 0, text.stderr
    assert f"report      asked auditd (pid {pid}) for a state report (SIGCONT)" in text.stdout
    assert "plugins     no plugins active (no plugin queue)" in text.stdout
    lab.note(state_file=str(path), age_s=shown["age"], version=shown["version"])


def test_a_stopped_auditd_is_not_signalled(lab, state_files):
    pid = lab.auditd_pid
    lab.stop_auditd()
    try:
        assert process_state(pid) == "T"
        mtimes = {p: os.stat(p).st_mtime_ns for p in (STATE_PATH_3, STATE_PATH_4)
                  if os.path.exists(p)}
        result = run_auditop("status", "--auditd-state", "--json")
        assert result.returncode == 0, result.stderr
        line = json.loads(result.stdout)
        assert line["auditd_state_request"] == (
            f"not asked: auditd (pid {pid}) is stopped (state T): SIGCONT would resume "
            "it, so no report is asked for")
        assert process_state(pid) == "T"
        assert {p: os.stat(p).st_mtime_ns for p in (STATE_PATH_3, STATE_PATH_4)
                if os.path.exists(p)} == mtimes  # nothing written: nothing was asked
        assert "auditd-stopped" in {f["id"] for f in line["findings"]}

        text = run_auditop("status", "--auditd-state")
        assert "report      not asked: auditd" in text.stdout
        assert process_state(pid) == "T"
        refused = run_auditop("--read-only", "status", "--auditd-state")
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.strip() == ("auditop: --auditd-state signals auditd to ask "
                                          "for its report; read-only mode (command line) "
                                          "forbids that")
        assert process_state(pid) == "T"
    finally:
        lab.resume_auditd()
