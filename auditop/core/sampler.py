"""The pace of the polls: when the next one is due, one poll in flight.

A burst that fills the backlog for 150 ms between two screen refreshes is
only seen by sampling faster than the screen; History then keeps the peak.
The Sampler owns no thread: the Monitor's one thread asks it for a poll
when `next_at` has come, and decides what a silence means.
"""

from __future__ import annotations

import inspect
import time
from typing import Callable

from auditop.core.errors import SendersHeld
from auditop.core.model import Sample
from auditop.core.source import Source

DEFAULT_RATE_HZ = 10.0
# While the backlog is busy, sample faster: inside a 150 ms flood auditd keeps
# draining, so the backlog flickers just under its limit and one or two
# samples at 10 Hz may miss the top. A backlog at a quarter of its limit, or
# records being lost, starts fast sampling; two quiet seconds end it. An
# idle queue costs 10 polls a second, a busy one 50.
BURST_RATE_HZ = 50.0
BURST_FILL = 0.25
BURST_HOLD = 2.0
MAX_RATE_HZ = 200.0
# While a child keeps the pace (the live source's ticker), the Monitor's
# thread takes its answers at least this often (and when a window is due).
COLLECT_EVERY = 1.0
MIN_RATE_HZ = 0.1


class Sampler:
    def __init__(self, source: Source, rate_hz: float = DEFAULT_RATE_HZ,
                 clock: Callable[[], float] = time.monotonic,
                 burst_rate_hz: float = BURST_RATE_HZ) -> None:
        if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
            raise ValueError(f"the sampling rate must be between {MIN_RATE_HZ:g} and "
                             f"{MAX_RATE_HZ:g} Hz")
        self.source = source
        self.period = 1.0 / rate_hz
        self.burst_period = min(self.period, 1.0 / burst_rate_hz)
        self._busy_until = float("-inf")
        self._clock = clock
        # A source whose poll can wait long (the kernel's) takes a callback
        # it calls every moment it waits: the Monitor's thread keeps time then.
        self._takes_waiting = "waiting" in inspect.signature(source.poll).parameters
        # A source that can hand the pace to a child of its own (a ticker,
        # sources/live.py) is told the periods it would keep.
        if (pace_with := getattr(source, "pace_with", None)) is not None:
            pace_with(self.period, self.burst_period)
        self.next_at = clock()  # when the next poll is due (monotonic)
        self.in_flight_since: float | None = None  # monotonic start of the poll under way
        self.held: SendersHeld | None = None  # why the last poll could not be sent
        self.last: Sample | None = None

    @property
    def paced(self) -> bool:
        """A child of the source keeps the pace: its answers are collected."""
        return getattr(self.source, "ticking", False)

    @property
    def paced_fd(self) -> int | None:
        """A descriptor that hangs up when the pacing child dies (or None)."""
        return getattr(self.source, "ticker_fd", None) if self.paced else None

    def poll(self, waiting: Callable[[], None] | None = None) -> list[Sample]:
        """One poll now, or the answers a pacing child has collected; the
        next poll is then due a period later (a burst's period while the
        backlog is busy), never twice in a row to catch up. Nothing when the
        kernel holds every sender (`held` says so): the silence is the
        Monitor's. An error no retry cures, or a bug, is raised."""
        if self.paced:
            samples = self.source.collect()
            if samples:
                self.last = samples[-1]
            # It stopped (the kernel holds it): the senders poll at once.
            self.next_at = self._clock() + (COLLECT_EVERY if self.paced else 0.0)
            return samples
        self.in_flight_since = self._clock()
        try:
            if self._takes_waiting and waiting is not None:
                sample = self.source.poll(waiting=waiting)
            else:
                sample = self.source.poll()
            self.held = None
        except SendersHeld as held:
            sample, self.held = None, held
        finally:
            self.in_flight_since = None
        now = self._clock()
        if sample is not None:
            if _busy(sample, self.last):
                self._busy_until = now + BURST_HOLD
            self.last = sample
        period = self.burst_period if now < self._busy_until else self.period
        self.next_at = max(self.next_at + period, now)
        if self.paced:  # handed over: its first answers come a period from now
            self.next_at = now + COLLECT_EVERY
        return [] if sample is None else [sample]

    def stalled_for(self) -> float:
        """Seconds the poll under way has taken so far (0 when none is)."""
        since = self.in_flight_since
        return 0.0 if since is None else max(0.0, self._clock() - since)


def _busy(sample: Sample, previous: Sample | None) -> bool:
    status = sample.status
    if status is None or status.backlog is None:
        return False
    if status.backlog_limit and status.backlog >= BURST_FILL * status.backlog_limit:
        return True
    before = previous.status if previous is not None else None
    return (before is not None and before.lost is not None and status.lost is not None
            and status.lost != before.lost)
