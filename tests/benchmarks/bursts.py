"""Section 4: burst capture on the real kernel. In the lab (a private auditd,
backlog_limit 64, backlog_wait_time 0, a rule on a scratch directory: see
tests/scenarios/lab.py and docs/scenarios.md), N floods of 150 ms one second
apart; how many of them auditop shows at the limit (its record windows'
backlog_peak) beside a 1 Hz instantaneous read (`auditctl -s` once a
second, as `watch -n1` or a 1 s collector would), the way
tests/scenarios/test_bursts.py runs it. The lab holds the kernel lock, refuses
an unsafe machine and restores everything."""

from __future__ import annotations

from tests.benchmarks.labrun import LabUnavailable, running_lab
from tests.benchmarks.lock import KernelLock
from tests.benchmarks.table import Figure, Section, unavailable

BURST_S = 0.15
LEAD_S = 1.5  # healthy windows before the first burst
READER_PHASE_S = 0.5  # the 1 Hz reader reads half-way between bursts
AUDITOP = "auditop record (window peaks)"
CRITICAL = "auditop record (backlog-high critical)"
LAST = "auditop, last sample of each window"
ONE_HZ = "1 Hz instantaneous read (auditctl -s)"
METRIC = "bursts seen at the limit"


def measure(lock: KernelLock, bursts: int = 8, lock_wait: float = 120.0) -> Section:
    from auditop.core.sampler import DEFAULT_RATE_HZ
    from tests.scenarios.lab import LAB_BACKLOG_LIMIT, Lab

    unit = f"of {bursts}"
    subjects = (AUDITOP, CRITICAL, LAST, ONE_HZ)

    def missing(why: str) -> Section:
        return Section("Burst capture on the real kernel", tuple(
            unavailable(s, METRIC, unit, why) for s in subjects))

    try:
        with running_lab(Lab, lock, lock_wait) as (lab, _):
            recording, floods, reads = lab.bursts(
                bursts, burst_s=BURST_S, lead_s=LEAD_S, reader_phase_s=READER_PHASE_S,
                sample_rate=DEFAULT_RATE_HZ)
    except LabUnavailable as exc:
        return missing(str(exc))
    if recording.returncode != 0 or not recording.windows:
        return missing(f"auditop record failed ({recording.returncode}): "
                       f"{recording.stderr.strip()[-200:]}")
    lines = recording.windows
    period = 1 / DEFAULT_RATE_HZ

    def over(begin: float, end: float) -> list[dict]:
        # A window covers its samples and the sample period before its first.
        return [line for line in lines
                if line["time"] - line["window"]["seconds"] - period <= end
                and line["time"] >= begin]

    def top(begin: float, end: float, value) -> int:
        return max([value(line) or 0 for line in over(begin, end)], default=0)

    burst_peaks = [top(b, e, lambda line: line["window"]["backlog_peak"]) for b, e, _ in floods]
    peaks = sum(peak >= LAB_BACKLOG_LIMIT for peak in burst_peaks)
    last = sum(top(b, e, lambda line: line["status"]["backlog"]) >= LAB_BACKLOG_LIMIT
               for b, e, _ in floods)
    one_hz = sum(read["backlog"] >= LAB_BACKLOG_LIMIT for _, read in reads)
    lost = sum(line["window"]["lost"] or 0 for line in lines)
    losing = sum(any((line["window"]["lost"] or 0) > 0 for line in over(b, e))
                 for b, e, _ in floods)
    # What the findings pane says: critical from a sampled 80%, or when the
    # kernel logged "backlog limit exceeded" in a window (a burst between samples).
    critical = sum(any(f["id"] == "backlog-high" and f["severity"] == "critical"
                       for line in over(b, e) for f in line["findings"])
                   for b, e, _ in floods)
    figures = (Figure(AUDITOP, METRIC, unit, (peaks,), anchors=(ONE_HZ,)),
               Figure(CRITICAL, METRIC, unit, (critical,), anchors=(ONE_HZ,)),
               Figure(LAST, METRIC, unit, (last,), anchors=(ONE_HZ,)),
               Figure(ONE_HZ, METRIC, unit, (one_hz,)))
    notes = (f"{len(floods)} floods of {BURST_S * 1000:.0f} ms one second apart "
             f"({', '.join(str(opens) for _, _, opens in floods)} opens), backlog_limit "
             f"{LAB_BACKLOG_LIMIT}; auditop sampled at {DEFAULT_RATE_HZ:g} Hz (50 Hz while "
             f"busy); it counted {lost} records lost, in the windows of {losing} of "
             f"{len(floods)} bursts",
             f"auditop's peak in each burst's windows: {burst_peaks}; the 1 Hz reads of "
             f"the backlog: {[read['backlog'] for _, read in reads]}",
             "a count of one run: n is 1 (each burst is one trial); a burst counts when a "
             "window over it peaked at the limit (window peaks), or raised backlog-high as "
             "critical (a sampled peak of 80% or more, or the kernel's \"backlog limit "
             "exceeded\" logged in the window); the lost records of a burst are counted "
             "whether or not a sample landed at its top")
    return Section("Burst capture on the real kernel", figures, notes)
