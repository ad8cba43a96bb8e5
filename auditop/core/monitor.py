"""The Monitor: sampling, the stall policy, History and findings in one
place, handing out frozen Snapshots through the feed (core/feed.py).
`record`, `status`, `check`, `set`, the exporter and the TUI all consume it.

A single-threaded core on an injected clock: `take(sample)` adds one sample
in order, `tick(now)` keeps time (a silence becomes a sample of its own,
windows close on time) and publishes a Snapshot when something a reader
would show has changed: a window closed, the first answer, silence
starting, going on (once a second) or ending, the kernel starting or
stopping to hold auditop's senders, a change read back. Findings are
evaluated once per snapshot made, and a closed window's snapshot is the one
published.

One thread drives it (`start()`, or the caller's with `run()`): it polls
the source when the Sampler says a poll is due, takes the answer, ticks,
and sleeps until the next poll. A poll the kernel keeps waiting does not
stop the clock: the live source calls back every moment it waits, and the
thread ticks then. What other threads ask of the Monitor (a new interval, a
restart, the change path's bookkeeping, an exporter's fresh snapshot) is
queued to that thread and run in order with the samples.

While a child of the source keeps the pace (the live source's ticker,
kernel/ticker.py), the thread does not wake per poll: it takes the
answers the child read when a window is due, at any other wake, and every
period while a change waits for its read-back; a hang-up of the child's
pipe wakes it at once.

The stall policy: when no status has been answered for `stall_after`
seconds, the Monitor records a "no answer" sample every STALL_CHECK, saying
why as far as it can tell (the poll under way is taking that long, or the
kernel holds every sender auditop allows itself). A silence sample carries
no readings (no status, no system info), so no counter is read twice.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import deque
from typing import Callable, Iterable

from auditop.core import changes
from auditop.core.changes import ChangeOutcome, Proposal
from auditop.core.errors import AuditError
from auditop.core.feed import Failure, Sink, Snapshot
from auditop.core.findings import DEFAULT, Thresholds, evaluate
from auditop.core.history import History, Window, forecast_seconds_to_full
from auditop.core.model import AuditStatus, Sample
from auditop.core.sampler import BURST_RATE_HZ, DEFAULT_RATE_HZ, Sampler
from auditop.core.source import Source

STALL_SECONDS = 0.5  # no answer for this long (or two periods) is a silence
STALL_CHECK = 0.25  # while silent, a silence sample this often
COLLECT_SLACK = 0.01  # a pacing child's last answer before a window is due has come
WINDOWS_KEPT = 600


class _Ended(Exception):
    """Raised out of a waiting poll when the Monitor stops or run() ends."""


class Monitor:
    """A Feed (core/feed.py) over a Source."""

    def __init__(self, source: Source, *, interval: float = 1.0,
                 rate_hz: float = DEFAULT_RATE_HZ, burst_rate_hz: float = BURST_RATE_HZ,
                 thresholds: Thresholds = DEFAULT, capacity: int = WINDOWS_KEPT,
                 on_window: Callable[[Window, Snapshot], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.source = source
        self.history = History(interval, capacity)
        # Who produced each window's records: a source that counts them
        # (sources/live.py, the simulator) hands them over as a window closes.
        self.history.producers = getattr(source, "producers", None)
        self.thresholds = thresholds
        self.sample_rate = rate_hz
        self._sampler = Sampler(source, rate_hz, clock, burst_rate_hz)
        self.stall_after = max(2 * self._sampler.period, STALL_SECONDS)
        self._on_window = on_window
        self._sink: Sink | None = None
        self._clock, self._wall = clock, wall
        # Other threads' requests, with when they were asked: one asked before
        # an answer was read runs before that answer is taken, and after it
        # otherwise (a ticker's answers are taken in a batch, some read before
        # an exporter's request and some after).
        self._inbox: deque[tuple[float, Callable[[], bool | None]]] = deque()
        self._stop = threading.Event()
        self._answered = threading.Condition()
        self._waiting = 0  # callers of next_answer() still waiting
        self._peak_lock = threading.Lock()
        self._peak: int | None = None
        self._found: AuditStatus | None = None
        self._since: float | None = None  # restart(): samples before this are dropped
        self._started_at = clock()
        self._last_sample_mono = self._started_at
        self._changed = False  # something a reader shows changed since the last snapshot
        self._made: Snapshot | None = None  # made for the window just closed, not yet out
        self._end: float | None = None  # run(): when to stop
        self._seq = 0
        self.failure: BaseException | None = None
        self._snapshot = self._make_snapshot()
        self._thread: threading.Thread | None = None
        self._driving = False  # a thread (start() or run()) owns History now
        # The pause between polls is a poll() on a pipe that stop() and
        # requests from other threads write to; the pipe lives while a thread drives.
        self._pipe_lock = threading.Lock()
        self._wake_read = self._wake_write = -1
        self._pause = select.poll()
        self._watched: int | None = None  # a pacing child's pipe, in the pause

    # -- the feed -----------------------------------------------------------------

    def connect(self, sink: Sink) -> None:
        """Snapshots and the failure that ends sampling go to `sink`, on the
        Monitor's thread (or the caller's while none runs)."""
        self._sink = sink

    def start(self) -> None:
        """Sample and process on one thread of its own (the TUI, the exporter)."""
        self._driving = True
        self._thread = threading.Thread(target=self._drive, name="auditop-monitor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; returns at once (a poll the kernel holds ends on its own)."""
        with self._pipe_lock:
            self._stop.set()
            if self._wake_write >= 0:
                os.write(self._wake_write, b"x")

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- the core -----------------------------------------------------------------

    def take(self, sample: Sample) -> bool:
        """Add one sample, in order; True when what a reader shows may have
        changed (tick() then publishes)."""
        if self._since is not None and sample.mono < self._since:
            return False  # polled before restart(): the previous machine's
        was = self._shown_state()
        self._made = None
        window = self.history.add(sample)
        self._last_sample_mono = sample.mono
        if sample.status is not None:
            if self._found is None:
                self._found = sample.status
            backlog = sample.status.backlog
            if backlog is not None:
                with self._peak_lock:
                    self._peak = backlog if self._peak is None else max(self._peak, backlog)
            if self._waiting:
                self._publish()  # the read-back value is out before change() returns
                with self._answered:
                    self._answered.notify_all()
        if window is not None:
            self._closed(window)
        changed = window is not None or self._shown_state() != was
        self._changed = self._changed or changed
        return changed

    def tick(self, now: float) -> Snapshot | None:
        """Keep time at `now` (the Monitor's clock): record a silence, close
        the window whose time is up, and publish a Snapshot if anything a
        reader shows changed since the last one. The snapshot published, or None."""
        answered = self.history.last_answered
        since = answered.mono if answered is not None else self._started_at
        if now - since > self.stall_after and now - self._last_sample_mono >= STALL_CHECK:
            self.take(self._silence_sample(now, now - since))
        if (window := self.history.tick(now)) is not None:
            self._closed(window)
            self._changed = True
        if not self._changed:
            return None
        return self._publish()

    def add(self, samples: Iterable[Sample]) -> Snapshot:
        """Take samples and publish, before start() (preloaded screens, tests)."""
        for sample in samples:
            self.take(sample)
        return self._publish()

    # -- asked from other threads -------------------------------------------------

    def run(self, duration: float | None) -> Snapshot:
        """Sample for `duration` seconds (None: until interrupted) in the
        caller's thread, flush the last partial window and return the final
        snapshot. Raises the error that ended sampling, if one did. Never
        waits for a poll the kernel still holds."""
        self._end = None if duration is None else self._clock() + duration
        try:
            self._drive()
        except KeyboardInterrupt:
            pass  # the way to end an open-ended recording; the last window is kept
        if self.failure is not None:
            raise self.failure
        if self._sampler.paced:  # what a pacing child read since the last wake
            for sample in self._sampler.poll():
                self.take(sample)
        self._run_requests()
        if (window := self.history.flush()) is not None:
            self._closed(window)
        return self._publish()

    def restart(self, since: float | None = None) -> None:
        """Begin again with an empty History (the demo's reboot of its
        simulated machine): no window, chart scale, finding or setting
        change carries over. A sample polled before `since` (the source's
        clock) is of the machine before and is dropped. In order with the
        samples; at once when no thread drives."""
        def fresh() -> bool:
            self.history = History(self.history.interval, self.history.windows.maxlen)
            self.history.producers = getattr(self.source, "producers", None)
            self._found, self._since, self._made = None, since, None
            with self._peak_lock:
                self._peak = None
            return True
        self._request(fresh)

    def set_interval(self, seconds: float) -> None:
        """A new display interval, from the next window on."""
        def apply() -> bool:
            self.history.interval = seconds
            return True
        self._request(apply)

    def fresh_snapshot(self, timeout: float = 1.0) -> Snapshot:
        """A snapshot made now, after every sample taken (an exporter at a
        scrape: the published one may be a window old, and take_peak() then
        covers it too). Made on the Monitor's thread; the newest published one
        if no thread drives or it does not get to it within `timeout`."""
        if not self._driving:
            return self._snapshot
        done = threading.Event()

        def fresh() -> bool:
            self._publish()
            done.set()
            return False
        self._request(fresh)
        done.wait(timeout)
        return self._snapshot

    def take_peak(self) -> int | None:
        """The highest backlog answered since the previous call (exporters)."""
        with self._peak_lock:
            peak, self._peak = self._peak, None
        return peak

    # -- changes ------------------------------------------------------------------

    def change(self, proposal: Proposal, *, panic_confirmed: bool = False,
               log: Callable[[str, int | None, int | None, str], object] | None = None
               ) -> ChangeOutcome:
        """The shared change path (core/changes.py), read back from the next
        status this Monitor is answered after the SET. Blocks: call it off
        the UI thread. The snapshot with the read-back value is published
        before this returns. The drift watch is told first, so this change
        is never taken for one made underneath auditop."""
        drift = self.history.drift
        field = proposal.field

        def send(name: str, value: int):
            since = self._clock()
            self._request(lambda: drift.expect(name, since))  # before the SET is sent
            return self.source.set(name, value)
        try:
            outcome = changes.apply(proposal, send=send, next_answer=self.next_answer,
                                    status=self._snapshot.status,
                                    panic_confirmed=panic_confirmed, log=log,
                                    clock=self._clock)
        except AuditError:
            self._request(lambda: drift.settle(field))
            raise
        if outcome.new is not None:  # read back: the change has been seen
            self._request(lambda: drift.settle(field))
        return outcome

    def next_answer(self, after: float, timeout: float) -> AuditStatus | None:
        """The first status answered by a poll that started after `after`
        (monotonic), waiting up to `timeout` s; None if none came."""
        deadline = self._clock() + timeout
        if not self._driving:
            # Nobody is sampling (a preloaded screen, a test): ask once now.
            sample = self.source.poll()
            self.add([sample])
            return sample.status if sample.mono - sample.poll_seconds >= after else None

        def answered() -> Sample | None:
            latest = self.history.last_answered
            polled_at = latest.mono - latest.poll_seconds if latest else None
            return latest if polled_at is not None and polled_at >= after else None
        with self._answered:
            self._waiting += 1
            self._poke(b"w")  # a thread pausing until a window is due takes answers sooner
            try:
                while (found := answered()) is None:
                    left = deadline - self._clock()
                    if left <= 0 or self._stop.is_set():
                        return None
                    self._answered.wait(min(left, 0.1))
            finally:
                self._waiting -= 1
        return found.status

    def _request(self, action: Callable[[], bool | None]) -> None:
        """Run `action` on the Monitor's thread, in order with the samples (at
        once when no thread drives). It returns True when a reader would see
        a difference."""
        if not self._driving:
            if action():
                self._publish()
            return
        self._inbox.append((self._clock(), action))
        self._poke(b"r")

    def _poke(self, why: bytes) -> None:
        """Wake the driving thread from its pause."""
        with self._pipe_lock:
            if self._wake_write >= 0:
                os.write(self._wake_write, why)

    # -- the thread ---------------------------------------------------------------

    def _drive(self) -> None:
        """Poll when due, take, tick, sleep until the next poll; until stop(),
        the end of run(), or an error no retry cures (or a bug), which goes to
        the sink as a Failure."""
        with self._pipe_lock:
            if self._stop.is_set():
                self._driving = False
                return
            self._driving = True
            self._wake_read, self._wake_write = os.pipe()
            os.set_blocking(self._wake_read, False)
            self._pause.register(self._wake_read, select.POLLIN)
        sampler = self._sampler
        try:
            while not self._ended():
                # A pacing child's answers are taken at every wake: a request
                # (an exporter's fresh snapshot) sees them all.
                if (batch := sampler.paced) or self._clock() >= sampler.next_at:
                    try:
                        samples = sampler.poll(self._while_waiting)
                    except _Ended:
                        break
                    for sample in samples:
                        # Asked before this answer: first. A batch was read over
                        # the last window, on the Monitor's clock (the live one's):
                        # a request asked amid it goes amid it.
                        self._run_requests(before=sample.mono if batch else None)
                        self.take(sample)
                self._run_requests()
                self.tick(self._clock())
                self._watch(sampler.paced_fd)
                pause = self._pause_seconds()
                if pause > 0 and self._pause.poll(pause * 1000):
                    try:
                        os.read(self._wake_read, 512)
                    except BlockingIOError:
                        pass  # another wake took it
        except Exception as exc:  # noqa: BLE001 - a fatal error, or a bug said as one
            self.failure = exc
            if self._sink is not None:  # else it waits in `failure` (run() raises it)
                self._sink(Failure(exc))
        finally:
            self._watch(None)
            with self._pipe_lock:
                self._driving = False
                self._pause.unregister(self._wake_read)
                os.close(self._wake_read)
                os.close(self._wake_write)
                self._wake_read = self._wake_write = -1

    def _watch(self, fd: int | None) -> None:
        """Wake when a pacing child dies: its pipe, for no event but a hang-up."""
        if fd == self._watched:
            return
        if self._watched is not None:
            self._pause.unregister(self._watched)
        if fd is not None:
            self._pause.register(fd, 0)
        self._watched = fd

    def _pause_seconds(self) -> float:
        """Until the next poll; while silent, the next silence sample. While
        a child keeps the pace, until a window is due, or its period while a
        change waits for its read-back."""
        sampler, now = self._sampler, self._clock()
        wake = sampler.next_at
        if sampler.paced:
            closes_at = self.history.closes_at
            if closes_at is not None:
                wake = min(wake, closes_at + COLLECT_SLACK)
            if self._waiting:
                wake = min(wake, now + sampler.period)
        else:
            wake = min(wake, now + STALL_CHECK)
        if self._end is not None:
            wake = min(wake, self._end)
        return wake - now

    def _ended(self) -> bool:
        return self._stop.is_set() or (self._end is not None and self._clock() >= self._end)

    def _while_waiting(self) -> None:
        """Called by a poll while it waits for the kernel: time goes on."""
        if self._ended():
            raise _Ended
        self._run_requests()
        self.tick(self._clock())

    def _run_requests(self, before: float | None = None) -> None:
        """The requests asked so far; with `before`, only those asked by then."""
        inbox = self._inbox
        while inbox:
            asked_at, action = inbox[0]
            if before is not None and asked_at > before:
                return
            inbox.popleft()
            if action():
                self._changed = True

    def _silence_sample(self, now: float, silent: float) -> Sample:
        held = self._sampler.held
        in_flight = self._sampler.stalled_for()
        if held is not None:
            error = str(held)
            count, longest = held.count, held.seconds
        else:
            error = f"kernel not answering for {max(silent, in_flight):.1f} s"
            count, longest = 0, 0.0
        return Sample(time=self._wall(), mono=now, status=None, system=None, error=error,
                      poll_seconds=in_flight, held_senders=count, held_for=longest)

    def _closed(self, window: Window) -> None:
        """A window closed: its snapshot is made once, written (record) and published."""
        self._made = self._make_snapshot()
        self._changed = True
        if self._on_window is not None:
            self._on_window(window, self._made)

    def _shown_state(self) -> tuple:
        """What a reader shows that can change without a window closing."""
        latest = self.history.latest
        silent = int(self.history.silent_seconds)
        return (self._found is not None, latest is not None and latest.status is None,
                silent, latest is not None and latest.throttled)

    def _publish(self) -> Snapshot:
        snapshot = self._made if self._made is not None else self._make_snapshot()
        self._made, self._changed = None, False
        self._snapshot = snapshot
        if self._sink is not None:
            self._sink(snapshot)
        return snapshot

    def _make_snapshot(self) -> Snapshot:
        history = self.history
        self._seq += 1
        return Snapshot(
            seq=self._seq,
            windows=tuple(history.windows),
            latest=history.latest,
            last_answered=history.last_answered,
            system=history.last_system,
            findings=tuple(evaluate(history, self.thresholds)),
            silent_for=history.silent_seconds,
            interval=history.interval,
            sample_rate=self.sample_rate,
            found=self._found,
            forecast=forecast_seconds_to_full(history),
            setting_changes=history.setting_changes(),
        )


__all__ = ["AuditError", "Monitor", "Snapshot", "WINDOWS_KEPT"]
