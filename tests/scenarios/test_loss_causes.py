"""Losses of each cause on the real kernel, each with its own remedy: the
kernel's rate limit (rate_limit, never a huge backlog_limit), and auditd
stopped long enough for the queues behind its socket to give up (records
printed to the kernel log or lost as "printk limit exceeded"; the remedy
resumes auditd). The backlog's own overflow and its backlog_limit advice
are test_bursts.py's and test_stall.py's."""

from __future__ import annotations

import time

from tests.scenarios.lab import auditctl, between, ids

RATE_LIMIT = 50
FLOOD_S = 2.0


def lost_findings(lines):
    return [f for line in lines for f in line["findings"] if f["id"] == "lost-increasing"]


def test_rate_limit_losses_get_a_rate_limit_remedy(lab):
    recording = lab.record(11.5)
    recording.wait_for_windows(1)
    auditctl("-r", str(RATE_LIMIT))
    # printk_ratelimit is kernel-wide (10 messages per 5 s): an earlier lab's
    # flood may have spent it, and the kernel would name no cause at all.
    time.sleep(5.5)
    try:
        start = time.time()
        lab.results(lab.flood(FLOOD_S, processes=2), timeout=FLOOD_S + 10)
        end = time.time()
    finally:
        auditctl("-r", "0")
    recording.finish(timeout=20)
    assert recording.returncode == 0, recording.stderr
    # Every window that overlaps the flood (its messages can land a little
    # after the last open): losses stop within a window of its end.
    flood = [line for line in recording.windows
             if line["time"] > start and line["time"] - line["window"]["seconds"] < end + 1.0]
    causes = [line["window"]["loss_causes"] for line in flood]
    lost = lost_findings(flood)
    assert lost, [sorted(ids(line)) for line in flood]
    # The remedy follows what the kernel named in each window: its rate limit
    # -> rate_limit; nothing (printk's budget is kernel-wide) with the backlog
    # never full -> no limit at all; only a named backlog limit -> -b. (Here
    # the kernel has named either, run to run: both are checked as they come.)
    for finding in lost:
        if "rate limit exceeded" in finding["title"]:
            assert finding["remedy"].startswith("auditctl -r "), finding
            assert "rules produce about" in finding["detail"]
        elif "backlog limit exceeded" not in finding["title"]:
            assert not (finding["remedy"] or "").startswith("auditctl -b"), finding
    named = [f for f in lost if "rate limit exceeded" in f["title"]]
    lab.note(causes=causes, rate_limit_remedies=sorted({f["remedy"] for f in named}))


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
