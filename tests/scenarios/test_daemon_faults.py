"""Scenario 4, daemon faults while auditop records: auditd killed (SIGKILL:
no goodbye), started again, `auditctl --reset-lost`, audit disabled.

auditop must follow each change with the right numbers and never crash: pid
0 and auditd-not-running while enabled is 1, the new pid once auditd is
back, no negative loss rate when the counter is reset, audit-disabled when
it is off.
"""

from __future__ import annotations

import time

from tests.scenarios.lab import auditctl, compare_with_auditctl, ids, process_state

STEP_S = 3.0  # each state is held this long: at least one whole 1 s window in it


def in_phase(lines: list[dict], start: float, end: float) -> list[dict]:
    """Windows that began after `start` (plus a margin) and ended before `end`."""
    return [line for line in lines
            if line["time"] - line["window"]["seconds"] >= start + 0.2 and line["time"] <= end]


DEAD_PID_S = 2.0  # how long the test leaves the dead auditd's pid with the kernel


def test_auditd_killed_restarted_lost_reset_audit_disabled(lab):
    recording = lab.record(6 * STEP_S + 5, sample_rate=20)
    time.sleep(STEP_S)

    # Some losses first, so there is a counter to reset later.
    lab.stop_auditd()
    lab.results(lab.flood(0.5, processes=2), timeout=10)
    lab.resume_auditd()
    lab.wait_for(lambda s: s["backlog"] == 0, timeout=5)
    lost_before_reset = lab.status()["lost"]

    # 1. auditd killed. The kernel notices only when it next fails to send
    # to the dead socket, i.e. with the next audit record: measure that.
    old_pid = lab.auditd_pid
    lab.kill_auditd()
    killed_at = time.time()
    time.sleep(DEAD_PID_S)
    pid_without_traffic = lab.status()["pid"]
    lab.results([lab.producer("flood", 0.05, 10)], timeout=10)  # one audited open
    after_kill = lab.wait_for(lambda s: s["pid"] == 0, timeout=5)
    gone_at = time.time()
    assert after_kill["pid"] == 0 and after_kill["enabled"] == 1
    killed_reads = compare_with_auditctl(quiet=True)
    time.sleep(STEP_S)

    # 2. auditd started again: a new pid.
    restarting_at = time.time()
    new_pid = lab.start_auditd()
    restarted_at = time.time()
    time.sleep(STEP_S)
    restarted_reads = compare_with_auditctl(quiet=True)

    # 3. lost reset with the reference tool.
    reset = auditctl("--reset-lost")
    reset_at = time.time()
    time.sleep(STEP_S)

    # 4. audit disabled while auditop runs.
    auditctl("-e", "0")
    disabled_at = time.time()
    time.sleep(STEP_S)
    disabled_reads = compare_with_auditctl(quiet=True)
    recording.finish(timeout=30)

    assert recording.returncode == 0, recording.stderr
    assert "Traceback" not in recording.stderr
    lines = recording.windows
    lab.note(lost_before_reset=lost_before_reset, reset_said=reset.stderr.strip(),
             pid_after_kill_without_traffic=pid_without_traffic, old_pid=old_pid,
             new_pid=new_pid, seconds_kill_to_pid0=round(gone_at - killed_at, 2),
             pids=[line["status"]["pid"] for line in lines],
             lost=[line["window"]["lost"] for line in lines])

    # Never a negative or impossible number, whatever happened.
    for line in lines:
        window = line["window"]
        assert window["lost"] >= 0
        for rate in ("lost_per_s", "netlink_drops_per_s", "wait_per_s"):
            assert window[rate] is None or window[rate] >= 0, (rate, line)
        assert line["status"]["pid"] in (0, old_pid, new_pid), line["status"]
        auditd = line["system"]["auditd"]
        if auditd is not None:
            assert auditd["pid"] == line["status"]["pid"], (auditd, line["status"])

    # Before any record fails, the kernel still names the dead auditd: once
    # the /proc probes have seen it gone (they run every 0.5 s), auditop says so.
    dead_but_named = [line for line in lines
                      if killed_at + 0.7 <= line["time"] <= killed_at + DEAD_PID_S
                      and line["status"]["pid"] == old_pid]
    assert dead_but_named, "windows while the kernel still named the dead auditd"
    for line in dead_but_named:
        assert line["system"]["auditd"] is None
        assert "auditd-not-running" in ids(line)

    killed = in_phase(lines, gone_at, restarting_at)
    assert killed
    for line in killed:
        assert line["status"]["pid"] == 0 and line["status"]["enabled"] == 1
        assert "auditd-not-running" in ids(line)
        assert line["system"]["auditd"] is None

    restarted = in_phase(lines, restarted_at, reset_at)
    assert restarted
    for line in restarted:
        assert line["status"]["pid"] == new_pid
        assert line["system"]["auditd"]["pid"] == new_pid
        assert line["system"]["auditd"]["name"] == "auditd"
        assert "auditd-not-running" not in ids(line)

    # The window holding the reset counts from zero: no negative loss, and
    # the old count is not counted again.
    around_reset = [line for line in lines
                    if line["time"] >= reset_at and line["time"] <= disabled_at]
    assert around_reset
    assert all(line["window"]["lost"] == 0 for line in around_reset), around_reset
    after_reset = in_phase(lines, reset_at, disabled_at)
    assert after_reset
    assert all(line["status"]["lost"] < lost_before_reset for line in after_reset)
    assert "lost-increasing" not in ids(around_reset[-1])

    disabled = in_phase(lines, disabled_at, time.time())
    assert disabled
    for line in disabled:
        assert line["status"]["enabled"] == 0
        assert "audit-disabled" in ids(line)
        assert "auditd-not-running" not in ids(line)

    assert killed_reads["auditop"]["pid"] == 0
    assert restarted_reads["auditop"]["pid"] == new_pid
    assert disabled_reads["auditop"]["enabled"] == 0
    assert process_state(old_pid) is None  # reaped, no zombie left
