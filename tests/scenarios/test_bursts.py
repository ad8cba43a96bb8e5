"""Scenario 2, bursts: auditd running, a 150 ms openat flood once a second.

Each burst fills the backlog to its limit for a moment and auditd drains it
again well before the next one. auditop samples underneath its display
window and keeps the peak, so every burst shows as a window whose peak
reached the limit; a once-a-second instantaneous read (`watch -n1 auditctl
-s`, a 1 s metrics collector) sees the backlog between bursts and misses
them. The test states both counts.
"""

from __future__ import annotations


from auditop.core.sampler import DEFAULT_RATE_HZ
from tests.scenarios.lab import LAB_BACKLOG_LIMIT, compare_with_auditctl

BURSTS = 8
BURST_S = 0.15
LEAD_S = 1.5  # healthy windows before the first burst
# The 1 Hz reader reads half-way between bursts. Where a real collector's
# reads fall is luck: a 150 ms burst once a second is hit by 15% of phases.
READER_PHASE_S = 0.5
# Inside a burst auditd keeps draining, so the backlog flickers between the
# limit and a little below it: a fixed 10 Hz sampler caught the limit in 1 to
# 8 of 8 bursts per run. The default sampler goes to 50 Hz while the backlog
# is busy (auditop/core/sampler.py), which is what this test runs.
SAMPLE_RATE_HZ = DEFAULT_RATE_HZ


def test_every_burst_shows_as_a_window_at_the_limit(lab):
    recording, bursts, one_hz = lab.bursts(BURSTS, burst_s=BURST_S, lead_s=LEAD_S,
                                           reader_phase_s=READER_PHASE_S,
                                           sample_rate=SAMPLE_RATE_HZ)
    reads = compare_with_auditctl(quiet=True)  # auditd keeps up between bursts

    assert recording.returncode == 0, recording.stderr
    assert "Traceback" not in recording.stderr
    assert len(bursts) == BURSTS
    assert all(opens > 0 for _, _, opens in bursts)
    lines = recording.windows

    def windows_over(begin: float, end: float, lines=lines,
                     period=1 / SAMPLE_RATE_HZ) -> list[dict]:
        # A window covers [its first sample, its last sample]; the sample
        # period before its first sample belongs to it as well.
        return [line for line in lines
                if line["time"] - line["window"]["seconds"] - period <= end
                and line["time"] >= begin]

    def peak(begin: float, end: float) -> int:
        return max((w["window"]["backlog_peak"] or 0) for w in windows_over(begin, end))

    peaks = [peak(begin, end) for begin, end, _ in bursts]
    seen = [p >= LAB_BACKLOG_LIMIT for p in peaks]
    instantaneous = [read for _, read in one_hz if read["backlog"] >= LAB_BACKLOG_LIMIT]
    # What a display of auditop's own last sample per window (no peak) would show.
    last_sample = [line for line in lines
                   if (line["status"]["backlog"] or 0) >= LAB_BACKLOG_LIMIT]
    full_windows = [line for line in lines
                    if (line["window"]["backlog_peak"] or 0) >= LAB_BACKLOG_LIMIT]
    lab.note(bursts=len(bursts), opens_per_burst=[b[2] for b in bursts],
             auditop_windows_at_limit=len(full_windows),
             bursts_seen_by_auditop=sum(seen),
             one_hz_reads_at_limit=f"{len(instantaneous)}/{len(one_hz)}",
             one_hz_backlogs=[read["backlog"] for _, read in one_hz],
             window_last_sample_at_limit=len(last_sample),
             burst_peaks=peaks,
             window_peaks=[line["window"]["backlog_peak"] for line in lines],
             lost_per_window=[line["window"]["lost"] for line in lines],
             lost_total=reads["auditctl_after"]["lost"])

    def severity(over: list[dict]) -> str | None:
        found = [f["severity"] for w in over for f in w["findings"] if f["id"] == "backlog-high"]
        return "critical" if "critical" in found else found[0] if found else None

    severities = []
    for begin, end, _ in bursts:
        over = windows_over(begin, end)
        # Records were lost in every burst (rate_limit is 0: only a backlog
        # over the limit loses them) and auditop counted them in its window,
        assert any(w["window"]["lost"] > 0 for w in over), (begin, over)
        # and flagged the backlog as filling there.
        severities.append(severity(over))
    lab.note(backlog_high_per_burst=severities)
    assert None not in severities, severities
    # Critical: a sampled peak of 80% or more, or, when the burst filled and
    # drained between two samples, the kernel's own "backlog limit exceeded"
    # for that window. One may lack both: the kernel prints 10 such lines
    # per 5 s, and an earlier test may have used them.
    assert severities.count("critical") >= BURSTS - 1, (severities, peaks)
    # Inside a burst auditd keeps draining, and the backlog flickers between
    # the limit and just below it: a sample lands on the limit itself in most
    # bursts (7 or 8 of 8 on a quiet machine, 6 of 8 on a loaded one, where
    # the sampler is not always scheduled in time), the 1 Hz reader in few.
    assert sum(seen) >= BURSTS - 3, peaks
    assert sum(seen) > len(instantaneous) + 2, (peaks, one_hz)
    assert len(one_hz) == BURSTS
    assert len(instantaneous) < BURSTS / 2, "the 1 Hz reader was expected to miss most"
    assert lines[-1]["window"]["backlog_peak"] < LAB_BACKLOG_LIMIT  # quiet after the last
