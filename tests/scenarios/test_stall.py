"""Scenario 1, the stall: auditd stopped with SIGSTOP under an openat flood.

auditop must show the backlog pinned at the limit, records lost every
second, auditd's socket overrun, and say why (auditd-stopped,
lost-increasing); once auditd resumes the backlog drains to 0 and the
findings clear.
"""

from __future__ import annotations

import time

from tests.scenarios.lab import (auditd_socket, between, compare_with_auditctl, ids,
                                 LAB_BACKLOG_LIMIT)

FLOOD_S = 3.0


def test_stall_fills_the_backlog_and_loses_records(lab):
    recording = lab.record(11.0)
    recording.wait_for_windows(1)  # a healthy window first
    lab.stop_auditd()
    stopped_at = time.time()
    # What one audited open costs in auditd's receive buffer while it reads
    # nothing (its records, 4 to 5, as socket truesize).
    costs = []
    for _ in range(3):
        before = auditd_socket(lab.auditd_pid)["rmem"]
        lab.results([lab.producer("flood", 1, 1)], timeout=10)
        time.sleep(0.2)  # kauditd delivers at once while the buffer has room
        costs.append(auditd_socket(lab.auditd_pid)["rmem"] - before)
    producers = lab.flood(FLOOD_S, processes=2)
    ops = sum(r["ops"] for r in lab.results(producers, timeout=FLOOD_S + 10))
    flood_end = time.time()

    # Stopped and no load: the kernel holds still, so both tools must agree exactly.
    held = lab.status()
    socket = auditd_socket(lab.auditd_pid)
    reads = compare_with_auditctl(quiet=True)
    lab.resume_auditd()
    resumed_at = time.time()
    drained = lab.wait_for(lambda s: s["backlog"] == 0, timeout=5)
    recording.finish(timeout=20)

    assert recording.returncode == 0, recording.stderr
    assert "Traceback" not in recording.stderr
    lines = recording.windows
    stalled = between(lines, stopped_at + 0.5, flood_end)
    after = [line for line in lines if line["time"] - line["window"]["seconds"]
             >= resumed_at + 0.5]
    assert stalled, f"no window inside the stall: {[l['time'] for l in lines]}"
    assert after, "no window after auditd resumed"

    # The backlog sits at the limit (the kernel lets it reach limit + 1).
    assert held["backlog"] >= LAB_BACKLOG_LIMIT
    assert all(line["window"]["backlog_peak"] >= LAB_BACKLOG_LIMIT for line in stalled)
    assert all(line["window"]["lost_per_s"] > 0 for line in stalled)
    assert all({"lost-increasing", "auditd-stopped"} <= ids(line) for line in stalled)
    assert any(line["window"]["netlink_drops_per_s"] for line in stalled), \
        [line["window"]["netlink_drops_per_s"] for line in stalled]
    assert all(line["system"]["auditd"]["state"] == "T" for line in stalled)
    # auditd's buffer is full: Rmem pinned near its size, rmem_default.
    assert all(cost > 0 for cost in costs), costs
    rmem_default = stalled[-1]["system"]["rmem_default"]
    assert socket["rmem"] >= 0.9 * rmem_default, (socket, rmem_default)
    assert all(line["system"]["auditd"]["netlink_rmem"] >= 0.9 * rmem_default
               for line in stalled)
    # Recovery: drained, and the findings about the stall are gone.
    assert drained["backlog"] == 0
    last = lines[-1]
    assert last["status"]["backlog"] == 0
    assert last["window"]["backlog_peak"] == 0
    assert not ids(last) & {"lost-increasing", "auditd-stopped", "backlog-high"}
    assert last["system"]["auditd"]["state"] != "T"

    lab.note(rmem_per_audited_open=costs,
             opens_that_fill_auditd_buffer=rmem_default // max(costs),
             stall_opens=ops,
             stall_lost_per_s=[round(l["window"]["lost_per_s"]) for l in stalled],
             stall_drops_per_s=[l["window"]["netlink_drops_per_s"] for l in stalled],
             stall_backlog=held["backlog"], stall_lost_total=held["lost"],
             auditd_socket=socket, auditop_vs_auditctl=reads["auditop"])
