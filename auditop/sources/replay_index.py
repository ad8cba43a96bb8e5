"""What a replay keeps of a recording and what it makes of it: the index
(per window only its offset, what a plot needs and which of the distinct
sets of findings it had, in compact arrays), a
recorded window as the Monitor's Window, and the Snapshot of the windows on
screen (replay.py plays them)."""

from __future__ import annotations

import math
import statistics
import threading
from array import array
from typing import Sequence

from auditop.core.findings import Finding
from auditop.core.history import Window, forecast_from
from auditop.core.model import AuditStatus, Sample
from auditop.core.monitor import Snapshot
from auditop.sources.recording import RecordedWindow, Skipped

PROBLEMS_KEPT = 20
ONSET = frozenset({"critical", "warning"})  # the severities "next finding" looks for
NONE = -1  # in the integer index arrays: unknown


def as_window(recorded: RecordedWindow) -> Window:
    """A recorded window as the Monitor's Window (version 1 lines, without
    per-counter spans, measured every counter over the window)."""
    held, held_for = recorded.held_senders or 0, recorded.held_for or 0.0
    causes, suppressed = recorded.loss_causes or (), recorded.loss_suppressed or 0
    printed = recorded.records_printed or 0
    last = Sample(time=recorded.time, mono=recorded.time, status=recorded.status,
                  system=recorded.system, error=recorded.error, held_senders=held,
                  held_for=held_for, loss_causes=causes, loss_suppressed=suppressed,
                  records_printed=printed)
    span = recorded.seconds

    def spent(value: float | None) -> float:
        return span if value is None else value
    return Window(
        start=recorded.time - span, end=recorded.time, seconds=span,
        samples=recorded.samples or 0, failures=recorded.failures or 0, last=last,
        status=recorded.status, system=recorded.system, backlog_peak=recorded.backlog_peak,
        lost=recorded.lost or 0, lost_per_s=recorded.lost_per_s,
        netlink_drops_per_s=recorded.netlink_drops_per_s, wait_per_s=recorded.wait_per_s,
        error=recorded.error, lost_seconds=spent(recorded.lost_seconds),
        drops_seconds=spent(recorded.drops_seconds), wait_seconds=spent(recorded.wait_seconds),
        held_senders=held, held_for=held_for, loss_causes=causes, loss_suppressed=suppressed,
        records_printed=printed, producers=recorded.producers)


class Index:
    """Per window, what seeking and plotting need, in compact arrays."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.offsets, self.lines = array("q"), array("q")
        self.times, self.lost = array("d"), array("d")
        self.peaks, self.limits = array("q"), array("q")
        self.onsets = array("q")  # windows where a warning or critical finding begins
        # Per window, which of `finding_sets` it had (a search looks there, not in the file)
        self.finding_set = array("i")
        self.finding_sets: list[tuple[tuple[str, str, str], ...]] = []  # (id, severity, title)
        self._set_ids: dict[tuple[tuple[str, str, str], ...], int] = {}
        self.began: float | None = None  # when the first window began
        self.problems = 0  # lines and parts of lines skipped
        self.skipped = 0  # lines skipped
        self.first_problems: list[str] = []
        self.found: AuditStatus | None = None  # the first status recorded
        self.complete = False
        self.read = 0  # bytes
        self._before: frozenset[str] = frozenset()  # the previous window's finding ids

    def add(self, offset: int, window: RecordedWindow) -> None:
        alarming = frozenset(f.id for f in window.findings if f.severity in ONSET)
        limit = window.status.backlog_limit if window.status else None
        found = tuple((f.id, f.severity, f.title) for f in window.findings)
        with self.lock:
            if self.began is None:
                self.began = window.time - max(window.seconds, 0.0)
            set_id = self._set_ids.setdefault(found, len(self.finding_sets))
            if set_id == len(self.finding_sets):
                self.finding_sets.append(found)
            self.finding_set.append(set_id)
            if alarming - self._before:
                self.onsets.append(len(self.offsets))
            self._before = alarming
            self.offsets.append(offset)
            self.lines.append(window.line_no)
            self.times.append(window.time)
            self.lost.append(math.nan if window.lost_per_s is None else window.lost_per_s)
            self.peaks.append(NONE if window.backlog_peak is None else window.backlog_peak)
            self.limits.append(NONE if limit is None else limit)
            if self.found is None and window.status is not None:
                self.found = window.status

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems += 1
            self.skipped += isinstance(text, Skipped)
            if len(self.first_problems) < PROBLEMS_KEPT:
                self.first_problems.append(text)

    def __len__(self) -> int:
        return len(self.offsets)


def replay_snapshot(seq: int, shown: Sequence[tuple[Window, tuple[Finding, ...]]],
                    found: AuditStatus | None) -> Snapshot:
    """The Snapshot of the newest of `shown` ((Window, findings), oldest first)."""
    windows = tuple(window for window, _ in shown)
    current, findings = shown[-1]
    answered = next((w for w in reversed(windows) if w.status is not None), None)
    system = next((w.system for w in reversed(windows) if w.system is not None), None)
    silent = 0.0
    for window in reversed(windows):
        if window.status is not None:
            break
        silent += window.seconds
    recent = [w for w in windows[-60:] if w.seconds > 0]
    # A window's span runs from the previous window's last poll, so it holds
    # as many intervals as polls; the recording's first has no previous and
    # one interval less (ten polls in 0.9 s at 10 Hz: said 11 Hz before).
    later = [w for w in recent if w is not windows[0]]
    if later:
        interval = statistics.median(w.seconds for w in later)
        rate = statistics.median((w.samples + w.failures) / w.seconds for w in later)
    elif recent and recent[0].samples + recent[0].failures > 1:
        polls = recent[0].samples + recent[0].failures
        rate = (polls - 1) / recent[0].seconds
        interval = polls / rate
    else:
        interval, rate = 1.0, 0.0
    if not math.isfinite(rate):  # a recorded span too short for its samples
        rate = 0.0
    return Snapshot(
        seq=seq, windows=windows, latest=current.last,
        last_answered=answered.last if answered else None, system=system,
        findings=findings, silent_for=silent, interval=float(f"{interval:.2g}"),
        sample_rate=round(rate), found=found,
        forecast=forecast_from(windows[-5:], answered.status if answered else None))
