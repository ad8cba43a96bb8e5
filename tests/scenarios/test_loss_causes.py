"""Losses on the real kernel with auditd stopped: the remedy resumes auditd,
never a larger backlog_limit. (A rate-limit lab was tried and dropped: run to
run the kernel named "rate limit exceeded", "backlog limit exceeded" or
nothing, printk's budget being kernel-wide; the rate-limit remedy is unit
tested on the kernel's own lines, tests/unit/test_pipeline_findings.py.) The backlog's own overflow and its backlog_limit advice
are test_bursts.py's and test_stall.py's."""

from __future__ import annotations

import time

from tests.scenarios.lab import between



def lost_findings(lines):
    return [f for line in lines for f in line["findings"] if f["id"] == "lost-increasing"]


def test_auditd_stopped_under_load_gets_resume_it_not_a_limit(lab):
    recording = lab.record(9.0)
    recording.wait_for_windows(1)
    lab.stop_auditd()
    start = time.time()
    try:
        lab.results(lab.flood(3.0, processes=2), timeout=15)
        time.sleep(1.5)  # the retry queue's records go through their retries
    finally:
        lab.resume_auditd()
    end = time.time()
    recording.finish(timeout=20)
    assert recording.returncode == 0, recording.stderr
    stalled = between(recording.windows, start + 0.5, end)
    assert stalled
    lost = lost_findings(stalled)
    assert lost
    for finding in lost:
        assert finding["remedy"] == f"kill -CONT {lab.auditd_pid}", finding
        assert "no backlog_limit holds that" in finding["detail"]
    printed = sum(line["window"].get("records_printed", 0) for line in stalled)
    causes = {c for line in stalled for c in line["window"]["loss_causes"]}
    lab.note(records_printed=printed, causes=sorted(causes))
    # What auditd's socket refused after the retries goes to the kernel log
    # (audit_default 0) or is lost as "printk limit exceeded": noted, not
    # required (in a 3 s stall here the kernel named only the backlog limit).
