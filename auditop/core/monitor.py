"""The Monitor: sampling, the stall policy, History and findings in one
place, handing out frozen Snapshots. `record`, `status`, `check`, `set` and
the TUI all consume it; the TUI only renders the snapshots it is posted.

Two threads. The sampler's polls the source (a poll may block). The
monitor's own thread takes samples in order, turns silences into samples of
their own, keeps History, evaluates findings and publishes a Snapshot when
something a reader would show has changed: a window closed, the first
answer, silence starting, going on (once a second) or ending, the kernel
starting or stopping to hold auditop's senders, a change read back.

The stall policy: when no status has been answered for `stall_after`
seconds, the Monitor records a "no answer" sample every STALL_CHECK, saying
why as far as it can tell (the poll under way is taking that long, or the
kernel holds every sender auditop allows itself). A silence sample carries
no readings (no status, no system info), so no counter is read twice.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from auditop.core import changes
from auditop.core.changes import ChangeOutcome, Proposal
from auditop.core.drift import SettingChange
from auditop.core.errors import AuditError
from auditop.core.findings import DEFAULT, Finding, Thresholds, evaluate
from auditop.core.history import History, Window, forecast_seconds_to_full
from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.sampler import BURST_RATE_HZ, DEFAULT_RATE_HZ, Sampler
from auditop.core.source import Source

STALL_SECONDS = 0.5  # no answer for this long (or two periods) is a silence
STALL_CHECK = 0.25  # while silent, a silence sample this often
# Samples reach the monitor's thread a quarter second at a time: waking a
# thread per sample costs more than the rest of its work (50 a second while
# the backlog is busy). The first answer, an unanswered or throttled sample,
# and a change waiting for its read-back go at once.
BATCH_SECONDS = 0.25
WINDOWS_KEPT = 600


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the Monitor knew at one moment. Frozen: safe to hand to any thread."""

    seq: int
    windows: tuple[Window, ...]  # closed windows, oldest first
    latest: Sample | None
    last_answered: Sample | None
    system: SystemInfo | None  # newest system info read
    findings: tuple[Finding, ...]
    silent_for: float  # > 0: the kernel has not answered for this long
    interval: float
    sample_rate: float
    found: AuditStatus | None  # the first status answered: what auditop found
    forecast: float | None  # seconds until the backlog reaches its limit, if rising
    setting_changes: tuple[SettingChange, ...] = ()  # changed underneath auditop, kept a while

    @property
    def status(self) -> AuditStatus | None:
        return self.last_answered.status if self.last_answered else None

    @property
    def window(self) -> Window | None:
        """The newest closed window in which the kernel answered."""
        return next((w for w in reversed(self.windows) if w.status is not None), None)

    @property
    def held_senders(self) -> int:
        return self.latest.held_senders if self.latest else 0

    @property
    def held_for(self) -> float:
        return self.latest.held_for if self.latest else 0.0

    @property
    def silent_error(self) -> str | None:
        return self.latest.error if self.silent_for > 0 and self.latest else None


class Monitor:
    def __init__(self, source: Source, *, interval: float = 1.0,
                 rate_hz: float = DEFAULT_RATE_HZ, burst_rate_hz: float = BURST_RATE_HZ,
                 thresholds: Thresholds = DEFAULT, capacity: int = WINDOWS_KEPT,
                 on_snapshot: Callable[[Snapshot], None] | None = None,
                 on_window: Callable[[Window, Snapshot], None] | None = None,
                 on_failure: Callable[[BaseException], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.source = source
        self.history = History(interval, capacity)
        self.thresholds = thresholds
        self.sample_rate = rate_hz
        self._sampler = Sampler(source, rate_hz, clock, burst_rate_hz)
        self.stall_after = max(2 * self._sampler.period, STALL_SECONDS)
        self._on_snapshot, self._on_window, self._on_failure = on_snapshot, on_window, on_failure
        self._clock, self._wall = clock, wall
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._answered = threading.Condition()
        self._waiting = 0  # callers of next_answer() still waiting
        self._peak_lock = threading.Lock()
        self._peak: int | None = None
        self._found: AuditStatus | None = None
        self._since: float | None = None  # restart(): samples before this are dropped
        self._started_at = clock()
        self._last_sample_mono = self._started_at
        self._shown: tuple = ()
        self._seq = 0
        self.failure: BaseException | None = None
        self._snapshot = self._make_snapshot()
        self._thread: threading.Thread | None = None
        self._batch: list[Sample] = []  # the sampler thread's, until handed over
        self._batch_lock = threading.Lock()
        self._looping = False  # a loop (start() or run()) owns History now

    # -- running --------------------------------------------------------------

    def start(self) -> None:
        """Sample and process on threads of their own (the TUI, the exporter)."""
        self._looping = True
        self._start_sampler()
        self._thread = threading.Thread(target=self._loop, name="auditop-monitor",
                                        daemon=True)
        self._thread.start()

    def run(self, duration: float | None) -> Snapshot:
        """Sample for `duration` seconds (None: until interrupted) in the
        caller's thread, flush the last partial window and return the final
        snapshot. Raises the error that ended sampling, if one did. Never
        waits for a poll the kernel still holds."""
        self._start_sampler()
        end = None if duration is None else self._clock() + duration
        try:
            self._loop(end)
        except KeyboardInterrupt:
            pass  # the way to end an open-ended recording; the last window is kept
        finally:
            self._sampler.stop()
        if self.failure is not None:
            raise self.failure
        self._take_batch()
        self._flush()
        return self._snapshot

    def stop(self) -> None:
        """Stop both threads; returns at once (a held poll ends on its own)."""
        self._stop.set()
        self._sampler.stop()
        self._inbox.put(None)

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def add(self, samples: Iterable[Sample]) -> Snapshot:
        """Process samples synchronously, before start() (preloaded screens, tests)."""
        for sample in samples:
            self._take(sample)
        self._publish()
        return self._snapshot

    def restart(self, since: float | None = None) -> None:
        """Begin again with an empty History (the demo's reboot of its
        simulated machine): no window, chart scale, finding or setting
        change carries over. A sample polled before `since` (the source's
        clock) is of the machine before and is dropped. In order with the
        samples; at once when no loop runs."""
        def fresh() -> None:
            self._take_batch()  # what was polled before goes with the old History
            self.history = History(self.history.interval, self.history.windows.maxlen)
            self._found, self._since = None, since
            with self._peak_lock:
                self._peak = None
        if self._looping:
            self._inbox.put(fresh)  # published once taken
        else:
            fresh()
            self._publish()

    def set_interval(self, seconds: float) -> None:
        """A new display interval, from the next window on."""
        def apply() -> None:
            self.history.interval = seconds
        if self._thread is None:  # not running (a preloaded screen): now
            apply()
            self._publish()
        else:
            self._inbox.put(apply)

    def fresh_snapshot(self, timeout: float = 1.0) -> Snapshot:
        """A snapshot made now, after every sample already delivered, the batch
        not yet handed over included (an exporter at a scrape: the published
        one may be a window old, and take_peak() then covers it too). Made
        on the Monitor's thread; the newest published one if that thread is
        not running or does not get to it within `timeout`."""
        if self._thread is None or not self._thread.is_alive():
            return self._snapshot
        fresh = _Fresh(threading.Event())
        self._inbox.put(fresh)
        fresh.done.wait(timeout)
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
            self._in_loop(lambda: drift.expect(name, since))  # before the SET is sent
            return self.source.set(name, value)
        try:
            outcome = changes.apply(proposal, send=send, next_answer=self.next_answer,
                                    status=self._snapshot.status,
                                    panic_confirmed=panic_confirmed, log=log,
                                    clock=self._clock)
        except AuditError:
            self._in_loop(lambda: drift.settle(field))
            raise
        if outcome.new is not None:  # read back: the change has been seen
            self._in_loop(lambda: drift.settle(field))
        return outcome

    def _in_loop(self, action: Callable[[], None]) -> None:
        """Run `action` on the monitor's thread, in order with the samples
        (at once when no loop is running)."""
        if self._looping:
            self._inbox.put(action)
        else:
            action()

    def next_answer(self, after: float, timeout: float) -> AuditStatus | None:
        """The first status answered by a poll that started after `after`
        (monotonic), waiting up to `timeout` s; None if none came."""
        deadline = self._clock() + timeout
        if self._thread is None:
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
            try:
                while (found := answered()) is None:
                    left = deadline - self._clock()
                    if left <= 0 or self._stop.is_set():
                        return None
                    self._answered.wait(min(left, 0.1))
            finally:
                self._waiting -= 1
        return found.status

    # -- the monitor's thread -----------------------------------------------------------

    def _start_sampler(self) -> None:
        threading.Thread(target=self._sampler.run, args=(self._deliver, self._fail),
                         name="auditop-sampler", daemon=True).start()

    def _deliver(self, sample: Sample) -> None:
        """On the sampler's thread: hand samples over in batches."""
        with self._batch_lock:
            batch = self._batch
            batch.append(sample)
            if (sample.mono - batch[0].mono >= BATCH_SECONDS or sample.status is None
                    or sample.throttled or self._waiting or self._found is None):
                self._batch = []
                self._inbox.put(batch)

    def _take_batch(self) -> bool:
        """On the monitor's thread, before it records a silence or closes a
        window on time: the samples the sampler has not handed over yet come
        first, so History sees every sample in order."""
        with self._batch_lock:
            batch, self._batch = self._batch, []
        return self._handle(batch) if batch else False

    def _fail(self, error: BaseException) -> None:
        with self._batch_lock:
            batch, self._batch = self._batch, []
        if batch:
            self._inbox.put(batch)
        self._inbox.put(_Failed(error))

    def _loop(self, end: float | None = None) -> None:
        self._looping = True
        try:
            while not self._stop.is_set():
                timeout = STALL_CHECK if end is None else min(STALL_CHECK,
                                                              max(end - self._clock(), 0))
                if end is not None and self._clock() >= end:
                    return
                try:
                    item = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    item = None
                changed = self._handle(item)
                while True:  # take whatever else is waiting before publishing
                    try:
                        item = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    changed = self._handle(item) or changed
                if self.failure is not None:
                    if self._on_failure is not None:
                        self._on_failure(self.failure)
                    return
                if changed:
                    self._publish()
        except Exception as exc:  # noqa: BLE001 - a bug here must reach the user as one
            self.failure = exc
            if self._on_failure is not None:
                self._on_failure(exc)
            else:
                raise
        finally:
            self._looping = False

    def _handle(self, item: object) -> bool:
        """True when what a reader would show may have changed."""
        if isinstance(item, _Failed):
            self.failure = item.error
            return False
        if isinstance(item, _Fresh):
            self._take_batch()  # the samples not handed over yet belong in it
            self._publish()
            item.done.set()
            return False
        if callable(item):
            item()
            return True
        if isinstance(item, list):
            changed = False
            for sample in item:
                changed = self._take(sample) or changed
            return changed
        return self._silence()

    def _silence(self) -> bool:
        """No sample came for a while: record the silence, close windows on time."""
        changed = self._take_batch()
        now = self._clock()
        answered = self.history.last_answered
        since = answered.mono if answered is not None else self._started_at
        if now - since > self.stall_after and now - self._last_sample_mono >= STALL_CHECK:
            changed = self._take(self._silence_sample(now, now - since))
        if (window := self.history.tick(now)) is not None:
            self._closed(window)
            changed = True
        return changed

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

    def _take(self, sample: Sample) -> bool:
        if self._since is not None and sample.mono < self._since:
            return False  # polled before restart(): the previous machine's
        was = self._shown_state()
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
                self._publish()  # the read-back value is on screen before change() returns
                with self._answered:
                    self._answered.notify_all()
        if window is not None:
            self._closed(window)
        return window is not None or self._shown_state() != was

    def _closed(self, window: Window) -> None:
        if self._on_window is not None:
            self._on_window(window, self._make_snapshot())

    def _flush(self) -> None:
        if (window := self.history.flush()) is not None:
            self._closed(window)
        self._publish()

    def _shown_state(self) -> tuple:
        """What a reader shows that can change without a window closing."""
        latest = self.history.latest
        silent = int(self.history.silent_seconds)
        return (self._found is not None, latest is not None and latest.status is None,
                silent, latest is not None and latest.throttled)

    def _publish(self) -> None:
        self._snapshot = self._make_snapshot()
        if self._on_snapshot is not None:
            self._on_snapshot(self._snapshot)

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


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


@dataclass(frozen=True, slots=True)
class _Fresh:
    done: threading.Event


__all__ = ["AuditError", "Monitor", "Snapshot"]
