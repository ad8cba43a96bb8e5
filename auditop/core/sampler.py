"""Poll a source at a steady rate on a thread of its own, one poll in flight.

A burst that fills the backlog for 150 ms between two screen refreshes is
only seen by sampling faster than the screen; History then keeps the peak.
When the kernel makes the poller sleep, no sample arrives: `stall_sample`
lets the consumer say so at once, with the real time, instead of waiting.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import replace
from typing import Callable

from auditop.core.history import History, Window
from auditop.core.model import Sample
from auditop.kernel.errors import AuditError
from auditop.sources import Source

DEFAULT_RATE_HZ = 10.0
# While the backlog is busy, sample faster: inside a 150 ms flood auditd keeps
# draining, so the backlog flickers just under its limit and one or two
# samples at 10 Hz may miss the top. A backlog at a quarter of its limit, or
# records being lost, starts fast sampling; two quiet seconds end it. An
# idle queue costs 10 polls a second, a busy one 50.
BURST_RATE_HZ = 50.0
BURST_FILL = 0.25
BURST_HOLD = 2.0
# A poll this much slower than usual means the kernel is holding the poller.
STALL_SECONDS = 0.5


class Sampler:
    def __init__(self, source: Source, rate_hz: float = DEFAULT_RATE_HZ,
                 clock: Callable[[], float] = time.monotonic,
                 burst_rate_hz: float = BURST_RATE_HZ) -> None:
        if rate_hz <= 0:
            raise ValueError("the sampling rate must be positive")
        self.source = source
        self.period = 1.0 / rate_hz
        self.burst_period = min(self.period, 1.0 / burst_rate_hz)
        self._busy_until = float("-inf")
        self._clock = clock
        self._stop = threading.Event()
        self.in_flight_since: float | None = None  # monotonic start of the poll under way
        self.last: Sample | None = None

    def run(self, deliver: Callable[[Sample], None],
            fail: Callable[[AuditError], None]) -> None:
        """Poll until stop(); blocking, so call it on a thread of its own.
        A fatal error (not privileged, no audit) goes to `fail` and ends it."""
        next_at = self._clock()
        while not self._stop.is_set():
            self.in_flight_since = self._clock()
            try:
                sample = self.source.poll()
            except AuditError as exc:
                self.in_flight_since = None
                fail(exc)
                return
            self.in_flight_since = None
            now = self._clock()
            if _busy(sample, self.last):
                self._busy_until = now + BURST_HOLD
            self.last = sample
            deliver(sample)
            period = self.burst_period if now < self._busy_until else self.period
            # Keep the rate, but never poll twice in a row to catch up.
            next_at = max(next_at + period, now)
            self._stop.wait(max(0.0, next_at - self._clock()))

    def stop(self) -> None:
        self._stop.set()

    def stalled_for(self) -> float:
        """Seconds the poll under way has taken so far (0 when none is)."""
        since = self.in_flight_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    def stall_sample(self, threshold: float) -> Sample | None:
        """A Sample that says 'no answer' when the poll under way has taken
        longer than `threshold` seconds: the consumer records the silence as
        it happens, with the last known system state."""
        waited = self.stalled_for()
        if waited <= threshold or self.last is None:
            return None
        return replace(self.last, time=time.time(), mono=self._clock(), status=None,
                       error=f"kernel not answering for {waited:.1f} s",
                       poll_seconds=waited)


def _busy(sample: Sample, previous: Sample | None) -> bool:
    status = sample.status
    if status is None or status.backlog is None:
        return False
    if status.backlog_limit and status.backlog >= BURST_FILL * status.backlog_limit:
        return True
    before = previous.status if previous is not None else None
    return (before is not None and before.lost is not None and status.lost is not None
            and status.lost != before.lost)


def sample_windows(source: Source, *, interval: float, rate_hz: float,
                   duration: float | None,
                   on_window: Callable[[Window, History], None]) -> History:
    """Sample `source` for `duration` seconds (None: until interrupted) and
    hand every closed window to `on_window`. Headless commands use this; the
    kernel's silences are recorded as they happen, with their real times."""
    history = History(interval)
    samples: queue.SimpleQueue[Sample] = queue.SimpleQueue()
    fatal: list[AuditError] = []
    sampler = Sampler(source, rate_hz)
    threading.Thread(target=sampler.run, args=(samples.put, fatal.append),
                     name="auditop-sampler", daemon=True).start()
    stall_after = max(2 * sampler.period, STALL_SECONDS)
    end = None if duration is None else time.monotonic() + duration
    try:
        while end is None or time.monotonic() < end:
            try:
                sample = samples.get(timeout=sampler.period)
            except queue.Empty:
                if fatal:
                    raise fatal[0] from None
                sample = sampler.stall_sample(stall_after)
            window = history.add(sample) if sample is not None else None
            if window is None:
                window = history.tick(time.monotonic())
            if window is not None:
                on_window(window, history)
    except KeyboardInterrupt:
        pass  # the way to end an open-ended recording; the last window is kept
    finally:
        sampler.stop()
    if fatal:
        raise fatal[0]
    if (window := history.flush()) is not None:
        on_window(window, history)
    return history
