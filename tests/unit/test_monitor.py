"""The Monitor: sampling, the stall policy, History and findings in one
place. Its core (take, tick) and its one thread run on a fake clock here:
a source that answers moves the clock by the time a poll takes, and one the
kernel keeps waiting moves it while it calls back, as the live one does."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from auditop.core import monitor as monitor_module
from auditop.core.changes import PanicRisk, Proposal
from auditop.core.errors import InternalError, NotPrivileged, SendersHeld
from auditop.core.feed import Failure, Snapshot
from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.monitor import STALL_CHECK, Monitor
from auditop.core.sampler import BURST_HOLD, Sampler
from auditop.sources.scripted import (ScriptedSource, auditd_stopped, healthy,
                                      panic_mode)
from tests.clock import Clock


class ClockedSource:
    """Each poll takes `step` seconds of the fake clock. Polls numbered in
    `held` wait for the kernel `hold` seconds, calling `waiting` every
    STALL_CHECK as the live source does, then answer (or raise `error`
    from poll number `fail_after` + 1 on)."""

    def __init__(self, clock: Clock, step: float, *, held: range = range(0),
                 hold: float = 0.0, fail_after: int | None = None,
                 error: BaseException | None = None, backlog=lambda n: n % 7,
                 lost=lambda n: n) -> None:
        self.clock, self.step = clock, step
        self.held, self.hold = held, hold
        self.fail_after, self.error = fail_after, error or NotPrivileged()
        self.backlog, self.lost = backlog, lost
        self.polls = 0

    def poll(self, waiting=None) -> Sample:
        self.polls += 1
        if self.fail_after is not None and self.polls > self.fail_after:
            raise self.error
        start = self.clock.now
        if self.polls in self.held:
            while self.clock.now - start < self.hold:
                self.clock.now += STALL_CHECK
                waiting()
        self.clock.now += self.step
        status = AuditStatus(enabled=1, failure=1, pid=0, backlog_limit=64,
                             lost=self.lost(self.polls), backlog=self.backlog(self.polls))
        return Sample(time=self.clock.wall(), mono=self.clock.now, status=status,
                      system=SystemInfo(read_at=self.clock.now),
                      poll_seconds=self.clock.now - start)

    def set(self, field, value):
        raise AssertionError("not used")

    def close(self):
        pass


def clocked(source_kwargs=None, **kwargs) -> tuple[Monitor, ClockedSource, Clock]:
    clock = Clock()
    rate = kwargs.setdefault("rate_hz", 50)
    source = ClockedSource(clock, 1 / rate, **(source_kwargs or {}))
    return Monitor(source, clock=clock, wall=clock.wall, **kwargs), source, clock


# -- the core: take and tick ------------------------------------------------------------

def test_a_snapshot_per_closed_window_with_its_findings_evaluated_once(monkeypatch):
    calls = []
    real = monitor_module.evaluate
    monkeypatch.setattr(monitor_module, "evaluate",
                        lambda *args: (calls.append(1), real(*args))[1])
    source = ScriptedSource(healthy(), restamp=False)
    windows, published = [], []
    monitor = Monitor(source, interval=1.0, rate_hz=10,
                      on_window=lambda w, s: windows.append((w, s)))
    monitor.connect(published.append)
    calls.clear()
    ticked = []
    for _ in range(31):  # 3 s at 10 Hz
        sample = source.poll()
        monitor.take(sample)
        ticked.append(monitor.tick(sample.mono))
    assert len(windows) == 3
    # the first answer, then one per window; each the snapshot the window was written with
    assert len(published) == 1 + len(windows)
    assert [s.seq for _, s in windows] == [s.seq for s in published[1:]]
    assert len(calls) == len(published)  # findings: once per snapshot, none twice
    assert [s for s in ticked if s is not None] == published
    assert published[-1].windows[-1] is windows[-1][0]


def test_tick_closes_windows_on_time_without_samples():
    monitor, source, clock = clocked(interval=0.5)
    monitor.take(source.poll())
    clock.now += 0.6
    snapshot = monitor.tick(clock.now)
    assert snapshot is not None and len(snapshot.windows) == 1
    assert monitor.tick(clock.now) is None  # nothing new: nothing published


def test_windows_at_the_sampling_rate():
    windows = []
    monitor, source, clock = clocked(interval=0.2, rate_hz=50,
                                     on_window=lambda w, s: windows.append(w))
    monitor.run(1.05)
    assert len(windows) == 6  # five whole windows, then the partial one flushed
    assert all(w.samples == 10 for w in windows[:-1])  # 10 polls per 0.2 s at 50 Hz
    assert all(w.lost_per_s and w.lost_per_s > 0 for w in windows[1:-1])


def test_a_held_poller_is_recorded_as_silence_with_real_times_and_no_readings():
    windows, snapshots = [], []
    monitor, source, clock = clocked({"held": range(16, 17), "hold": 1.75},
                                     interval=0.25, rate_hz=20,
                                     on_window=lambda w, s: windows.append(w))
    monitor.connect(snapshots.append)
    start = clock.wall()
    monitor.run(2.5)
    silent = [w for w in windows if w.samples == 0]
    assert len(silent) >= 4, "windows closed on time while the kernel held the poller"
    assert all(w.failures > 0 and "not answering" in w.error for w in silent)
    assert all(w.status is None and w.backlog_peak is None for w in silent)
    ends = [w.end for w in windows]
    assert ends == sorted(ends) and start <= ends[0] and ends[-1] <= clock.wall()
    assert windows[-1].samples > 0  # answers again after the release
    # while silent, snapshots said so, counting up once a second
    silences = [s.silent_for for s in snapshots if s.silent_for > 0]
    assert max(silences) >= 1.5 and silences == sorted(silences)
    assert any("not answering" in (s.silent_error or "") for s in snapshots)
    # a silence sample reads nothing: no status, no system info
    assert all(s.latest.system is None for s in snapshots if s.silent_for > 0)
    assert snapshots[-1].silent_for == 0


def test_stall_samples_reach_history_after_every_older_sample():
    monitor, source, clock = clocked({"held": range(10, 12), "hold": 1.0}, interval=10)
    seen = []
    original = monitor.history.add
    monitor.history.add = lambda s: (seen.append(s.mono), original(s))[1]
    monitor.run(3.0)
    assert len(seen) > source.polls  # silences among the answers
    assert seen == sorted(seen)


def test_senders_all_held_is_a_silence_that_says_so():
    clock = Clock()

    class Held(ClockedSource):
        def poll(self, waiting=None):
            if 5 <= self.polls < 40:
                self.polls += 1
                raise SendersHeld(6, 2.0)
            return super().poll(waiting)

    source = Held(clock, 0.0)
    monitor = Monitor(source, interval=1, rate_hz=10, clock=clock, wall=clock.wall)
    seen = []
    original = monitor.history.add
    monitor.history.add = lambda s: (seen.append(s), original(s))[1]
    for _ in range(45):
        clock.now = max(clock.now, monitor._sampler.next_at)
        for sample in monitor._sampler.poll():
            monitor.take(sample)
        monitor.tick(clock.now)
    silences = [s for s in seen if s.status is None]
    assert silences and all(s.held_senders == 6 and s.held_for == 2.0 for s in silences)
    assert seen[-1].status is not None


def test_a_fatal_error_ends_sampling_with_that_error():
    monitor, source, clock = clocked({"fail_after": 3}, interval=0.1)
    with pytest.raises(NotPrivileged):
        monitor.run(2)
    assert source.polls == 4


def test_a_bug_in_a_probe_is_reported_as_a_bug_not_as_silence():
    monitor, source, clock = clocked({"fail_after": 2, "error": KeyError("rmem")},
                                     interval=0.1)
    failures, failed = [], threading.Event()

    def sink(event):
        if isinstance(event, Failure):
            failures.append(event.error)
            failed.set()
    monitor.connect(sink)
    monitor.start()
    assert failed.wait(5)
    assert isinstance(failures[0], KeyError)
    assert "KeyError: 'rmem'" in str(InternalError(failures[0]))
    assert monitor.snapshot().silent_for < 1  # never "kernel not answering"


def test_a_throttled_kernel_gives_windows_with_real_values():
    source = ScriptedSource(auditd_stopped(wait_time=500), restamp=False)
    source.throttle(1.5)  # the kernel may hold senders
    windows = []
    monitor = Monitor(source, interval=0.25, rate_hz=20,
                      on_window=lambda w, s: windows.append(w))
    for _ in range(10):
        sample = source.poll()
        monitor.take(sample)
        snapshot = monitor.tick(sample.mono) or monitor.snapshot()
    assert windows and all(w.status is not None and w.backlog_peak == 65 for w in windows)
    assert all(w.held_senders == 1 and w.held_for == 1.5 for w in windows)
    assert "kernel-throttling" in {f.id for f in snapshot.findings}
    assert snapshot.silent_for == 0


def test_take_peak_is_the_highest_backlog_since_the_last_take():
    monitor, source, clock = clocked(interval=1)
    base = source.poll()
    monitor.add([replace(base, status=replace(base.status, backlog=b)) for b in (3, 40, 7)])
    assert monitor.take_peak() == 40
    assert monitor.take_peak() is None


def test_the_pace_is_faster_while_the_backlog_is_busy_until_it_has_been_quiet():
    clock = Clock()
    full = [False]
    source = ClockedSource(clock, 0.0, backlog=lambda n: 64 if full[0] else 0,
                           lost=lambda n: 0)
    sampler = Sampler(source, rate_hz=10, burst_rate_hz=50, clock=clock)

    def gaps(seconds: float) -> set[float]:
        seen, until = set(), clock.now + seconds
        while clock.now < until:
            before = sampler.next_at
            clock.now = before
            sampler.poll()
            seen.add(round(sampler.next_at - before, 3))
        return seen
    assert gaps(1.0) == {0.1}  # idle: 10 Hz
    full[0] = True
    assert gaps(1.0) == {0.02}  # busy: 50 Hz
    full[0] = False
    assert gaps(BURST_HOLD - 0.1) == {0.02}  # held fast while the burst may recur
    gaps(0.2)
    assert gaps(1.0) == {0.1}  # quiet for BURST_HOLD: back to 10 Hz


# -- one thread ---------------------------------------------------------------------

def test_one_thread_samples_and_publishes_and_stops_at_once_while_a_poll_is_held():
    source = ScriptedSource(healthy())
    monitor = Monitor(source, interval=0.5, rate_hz=40)
    answered = threading.Event()
    monitor.connect(lambda event: isinstance(event, Snapshot) and event.status is not None
                    and answered.set())
    before = set(threading.enumerate())
    monitor.start()
    try:
        assert answered.wait(5)
        assert [t.name for t in set(threading.enumerate()) - before] == ["auditop-monitor"]
        source.block()  # the next poll waits, calling back as the kernel's would
    finally:
        monitor.stop()  # returns at once: a flag and a byte in a pipe
    thread = monitor._thread
    thread.join(timeout=2)
    assert not thread.is_alive()  # the waiting poll gave up within a STALL_CHECK
    assert source.blocked


# -- the change path through the Monitor -------------------------------------------------

def test_a_change_is_read_back_from_the_next_answer_and_published_at_once():
    source = ScriptedSource(healthy())
    monitor = Monitor(source, interval=0.5, rate_hz=40)
    answered = threading.Event()
    monitor.connect(lambda event: isinstance(event, Snapshot) and event.status is not None
                    and answered.set())
    monitor.start()
    try:
        assert answered.wait(5)
        outcome = monitor.change(Proposal("backlog_limit", 8192, 16384, "double"))
        assert (outcome.old, outcome.new, outcome.held) == (8192, 16384, False)
        # the snapshot holding the read-back value is out before change() returns
        assert monitor.snapshot().status.backlog_limit == 16384
    finally:
        monitor.stop()


def stopped(source) -> Monitor:
    """No thread: next_answer() asks the source once, at once."""
    monitor = Monitor(source, interval=0.5, rate_hz=40)
    monitor.add([source.poll()])
    return monitor


def test_a_set_the_kernel_holds_is_applied_and_said_so():
    source = ScriptedSource(auditd_stopped())
    monitor = stopped(source)
    source.throttle(2.0)  # polls answer, senders are held
    outcome = monitor.change(Proposal("backlog_limit", 64, 8192, "exact value"))
    assert outcome.new == 8192 and outcome.held
    assert "applied" in outcome.text() or "read back" in outcome.text()
    assert "holding auditop's sender" in outcome.text()
    assert "unchanged" not in outcome.text()


def test_with_failure_2_a_risky_change_needs_the_explicit_word():
    source = ScriptedSource(panic_mode())
    monitor = stopped(source)
    with pytest.raises(PanicRisk, match="panic"):
        monitor.change(Proposal("backlog_limit", 8192, 4096, "halve"))
    assert source.writes == []
    outcome = monitor.change(Proposal("backlog_limit", 8192, 4096, "halve"),
                             panic_confirmed=True)
    assert source.writes == [("backlog_limit", 4096)] and outcome.new == 4096
    # raising the limit risks nothing: no extra word needed
    monitor.change(Proposal("backlog_limit", 4096, 8192, "double"))
    assert source.writes[-1] == ("backlog_limit", 8192)


def test_a_request_from_another_thread_runs_on_the_monitors_in_order():
    monitor, source, clock = clocked(interval=1.0)
    monitor.add([source.poll()])
    monitor.set_interval(2.0)  # no thread: at once, and published
    assert monitor.snapshot().interval == 2.0
    monitor.restart(since=clock.now + 1)
    late = source.poll()  # polled before `since`: the machine before
    assert not monitor.take(late) and monitor.snapshot().latest is None
