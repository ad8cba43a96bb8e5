"""Poll a source at a steady rate on a thread of its own, one poll in flight.

A burst that fills the backlog for 150 ms between two screen refreshes is
only seen by sampling faster than the screen; History then keeps the peak.
The Monitor owns this loop's thread and decides what a silence means.
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Callable

from auditop.core.errors import FATAL, AuditError, SendersHeld
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
        self._stop = threading.Event()
        # The pause between polls is a poll() on a pipe that stop() writes to
        # (on this kind of VM Event.wait costs 100 us of CPU a call, this 60);
        # the pipe lives while run() does.
        self._wake_read = self._wake_write = -1
        self._pause = select.poll()
        self._pipe_lock = threading.Lock()
        self.in_flight_since: float | None = None  # monotonic start of the poll under way
        self.held: SendersHeld | None = None  # why the last poll could not be sent
        self.last: Sample | None = None

    def run(self, deliver: Callable[[Sample], None],
            fail: Callable[[BaseException], None]) -> None:
        """Poll until stop(); blocking, so call it on a thread of its own.
        An error no retry cures (not privileged, no audit), or a bug, goes to
        `fail` and ends it. A poll that could not be sent because the kernel
        holds every sender delivers nothing: the silence is the Monitor's."""
        with self._pipe_lock:
            if self._stop.is_set():
                return
            self._wake_read, self._wake_write = os.pipe()
            self._pause.register(self._wake_read, select.POLLIN)
        try:
            self._loop(deliver, fail)
        finally:
            with self._pipe_lock:
                self._pause.unregister(self._wake_read)
                os.close(self._wake_read)
                os.close(self._wake_write)
                self._wake_read = self._wake_write = -1

    def _loop(self, deliver: Callable[[Sample], None],
              fail: Callable[[BaseException], None]) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            self.in_flight_since = self._clock()
            try:
                sample = self.source.poll()
                self.held = None
            except SendersHeld as held:
                sample, self.held = None, held
            except FATAL as exc:
                fail(exc)
                return
            except Exception as exc:  # noqa: BLE001 - a bug: reported as what it is
                fail(exc)
                return
            finally:
                self.in_flight_since = None
            now = self._clock()
            if sample is not None:
                if _busy(sample, self.last):
                    self._busy_until = now + BURST_HOLD
                self.last = sample
                deliver(sample)
            period = self.burst_period if now < self._busy_until else self.period
            # Keep the rate, but never poll twice in a row to catch up.
            next_at = max(next_at + period, now)
            self._pause.poll(max(0.0, next_at - self._clock()) * 1000)

    def stop(self) -> None:
        with self._pipe_lock:
            self._stop.set()
            if self._wake_write >= 0:
                os.write(self._wake_write, b"x")  # wakes the pause; run() then ends

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
