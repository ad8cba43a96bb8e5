"""A backlog_limit suggested from what was observed (pure).

The worst overflow episode says how much room the backlog lacked: while it
lasted the queue held its peak, and every record lost would have needed a
place of its own. So the limit that would have held it is the episode's
peak plus the records lost during it, rounded up to a power of two (the
figures people use: 8192, 16384, 65536 ...) and above the current limit.

An episode is a run of consecutive windows in which the backlog reached its
limit, or records were lost to it: the kernel named "backlog limit exceeded"
for them, or named no cause at all (with failure 0 it prints none). Records
the kernel says it lost to another cause (its rate limit, a queue behind
auditd, memory) are no backlog episode: no backlog_limit would have held
them (processes then wait, with backlog_wait_time,
before records are lost); a window in which the kernel did not answer at
all neither ends nor starts one (its losses are counted when it answers
again). A limit whose full queue would take more than a tenth of the
machine's memory (or, memory unknown, more than 2**20 records, ~2.3 GiB) is
no fix: auditd is not reading (stopped, dead or far too slow), and a larger
queue only delays the loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auditop.core.history import Window, recent_loss_causes
from auditop.core.memory import TYPICAL_RECORD_BYTES
from auditop.core.text import bytes_text, seconds_text

MAX_MEMORY_FRACTION = 0.1  # of MemTotal
MAX_RECORDS_UNKNOWN_MEMORY = 2**20


@dataclass(frozen=True, slots=True)
class LimitAdvice:
    limit: int  # the suggested backlog_limit
    peak: int  # the worst episode's backlog peak
    lost: int  # records lost during it
    seconds: float  # how long it lasted (the windows' spans)
    windows: int  # closed windows it covers
    memory: int  # bytes the suggested queue holds when full of typical records
    too_big: bool  # memory beyond reason: auditd must read faster instead

    @property
    def needed(self) -> int:
        return self.peak + self.lost

    def derivation(self) -> str:
        """How the figure was reached, in one sentence."""
        span = (f"{self.windows} window{'s' if self.windows != 1 else ''}, "
                f"{seconds_text(self.seconds)}")
        return (f"the worst episode seen ({span}): backlog peak {self.peak} + {self.lost} "
                f"records lost = {self.needed}, rounded up to a power of two: {self.limit} "
                f"(~{bytes_text(self.memory)} of kernel memory when full of typical "
                "records)")

    def remedy(self) -> str | None:
        """`auditctl -b N   # ...`, or None when the limit is no fix."""
        if self.too_big:
            return None
        return (f"auditctl -b {self.limit}   # peak {self.peak} + {self.lost} lost, "
                f"rounded up; ~{bytes_text(self.memory)} when full")


def power_of_two_above(need: int, current: int) -> int:
    """The smallest power of two >= need and > current."""
    floor = max(need, current + 1, 1)
    return 1 << (floor - 1).bit_length()


def suggest_backlog_limit(windows: Iterable[Window], current: int | None,
                          mem_total: int | None = None) -> LimitAdvice | None:
    """The limit that would have held the worst episode in `windows` (oldest
    first), or None: no episode, the limit is unknown, or 0 (unlimited)."""
    if not current:
        return None
    windows = list(windows)
    episodes: list[_Episode] = []
    current_run: _Episode | None = None
    for window in windows:
        if window.samples == 0 and window.lost == 0:
            continue  # the kernel said nothing: the episode, if any, goes on
        overflowing = (window.backlog_peak is not None and window.backlog_peak >= current) or (
            window.lost > 0 and _lost_to_the_backlog(windows, window))
        if not overflowing:
            current_run = None
            continue
        if current_run is None:
            current_run = _Episode()
            episodes.append(current_run)
        current_run.add(window)
    if not episodes:
        return None
    worst = max(episodes, key=lambda e: e.needed)  # the first of equals
    limit = power_of_two_above(worst.needed, current)
    memory = limit * TYPICAL_RECORD_BYTES
    if mem_total:
        too_big = memory > MAX_MEMORY_FRACTION * mem_total
    else:
        too_big = limit > MAX_RECORDS_UNKNOWN_MEMORY
    return LimitAdvice(limit=limit, peak=worst.peak, lost=worst.lost, seconds=worst.seconds,
                       windows=worst.windows, memory=memory, too_big=too_big)


def _lost_to_the_backlog(windows: list[Window], window: Window) -> bool:
    """Could `window`'s losses be the backlog's? Yes when the kernel named
    the backlog limit for them (or for the losses just before: it rate-limits
    its messages), or named nothing at all."""
    causes, _ = recent_loss_causes(windows, window)
    return not causes or "backlog-limit" in dict(causes)


class _Episode:
    """A run of overflowing windows, built while scanning (never shared)."""

    def __init__(self) -> None:
        self.peak = self.lost = self.windows = 0
        self.seconds = 0.0

    @property
    def needed(self) -> int:
        return self.peak + self.lost

    def add(self, window: Window) -> None:
        self.peak = max(self.peak, window.backlog_peak or 0)
        self.lost += window.lost
        self.windows += 1
        self.seconds += window.seconds
