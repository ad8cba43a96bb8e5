"""The Monitor: sampling, the stall policy, History and findings in one
place, with sources that can hold a poll and hold a SET the way the kernel
does."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from auditop.core.changes import PanicRisk, Proposal
from auditop.core.errors import InternalError, NotPrivileged
from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.monitor import Monitor
from auditop.core.sampler import Sampler
from auditop.sources.scripted import ScriptedSource, auditd_stopped, healthy, panic_mode


class HeldSource:
    """Answers at once, except while `held` is set: then poll() blocks like a
    sender the kernel put to sleep (with no answer), until `release` is set."""

    def __init__(self, fail_after: int | None = None, error: Exception | None = None) -> None:
        self.polls = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.fail_after = fail_after
        self.error = error or NotPrivileged()

    def poll(self) -> Sample:
        self.polls += 1
        if self.fail_after is not None and self.polls > self.fail_after:
            raise self.error
        if self.held.is_set():
            self.release.wait(5)
        status = AuditStatus(enabled=1, failure=1, pid=0, backlog_limit=64,
                             lost=self.polls, backlog=self.polls % 7)
        return Sample(time=time.time(), mono=time.monotonic(), status=status,
                      system=SystemInfo(read_at=time.monotonic()))

    def set(self, field, value):
        raise AssertionError("not used")

    def close(self):
        pass


def test_windows_at_the_sampling_rate():
    windows = []
    Monitor(HeldSource(), interval=0.2, rate_hz=50,
            on_window=lambda w, s: windows.append(w)).run(1.05)
    assert 5 <= len(windows) <= 7
    full = windows[:-1]
    assert all(7 <= w.samples <= 11 for w in full)  # ~10 polls per 0.2 s at 50 Hz
    assert all(w.lost_per_s and w.lost_per_s > 0 for w in full[1:])


def test_a_held_poller_is_recorded_as_silence_with_real_times_and_no_readings():
    source = HeldSource()
    windows, snapshots = [], []

    def hold_then_release():
        time.sleep(0.3)
        source.held.set()
        time.sleep(1.7)
        source.held.clear()
        source.release.set()

    threading.Thread(target=hold_then_release, daemon=True).start()
    start = time.time()
    monitor = Monitor(source, interval=0.25, rate_hz=20,
                      on_window=lambda w, s: windows.append(w),
                      on_snapshot=snapshots.append)
    monitor.run(2.5)
    silent = [w for w in windows if w.samples == 0]
    assert silent, "windows while the kernel held the poller"
    assert all(w.failures > 0 and "not answering" in w.error for w in silent)
    assert all(w.status is None and w.backlog_peak is None for w in silent)
    ends = [w.end for w in windows]
    assert ends == sorted(ends) and start <= ends[0] and ends[-1] <= time.time()
    assert windows[-1].samples > 0  # answers again after the release
    # while silent, snapshots said so, counting up
    assert any(s.silent_for >= 1.0 and "not answering" in s.silent_error for s in snapshots)
    # a silence sample reads nothing: no status, no system info
    assert all(s.latest.system is None for s in snapshots if s.silent_for > 0)


def test_a_fatal_error_ends_sampling_with_that_error():
    with pytest.raises(NotPrivileged):
        Monitor(HeldSource(fail_after=3), interval=0.1, rate_hz=50).run(2)


def test_a_bug_in_a_probe_is_reported_as_a_bug_not_as_silence():
    failures = []
    monitor = Monitor(HeldSource(fail_after=2, error=KeyError("rmem")), interval=0.1,
                      rate_hz=50, on_failure=failures.append)
    monitor.start()
    deadline = time.monotonic() + 2
    while not failures and time.monotonic() < deadline:
        time.sleep(0.02)
    monitor.stop()
    assert isinstance(failures[0], KeyError)
    assert "KeyError: 'rmem'" in str(InternalError(failures[0]))
    assert monitor.snapshot().silent_for < 1  # never "kernel not answering"


def test_a_throttled_kernel_gives_windows_with_real_values():
    source = ScriptedSource(auditd_stopped(wait_time=500))  # the kernel may hold senders
    source.throttle(1.5)
    windows = []
    snapshot = Monitor(source, interval=0.25, rate_hz=20,
                       on_window=lambda w, s: windows.append(w)).run(1.0)
    assert windows and all(w.status is not None and w.backlog_peak == 65 for w in windows)
    assert all(w.held_senders == 1 and w.held_for == 1.5 for w in windows)
    assert "kernel-throttling" in {f.id for f in snapshot.findings}
    assert snapshot.silent_for == 0


def test_stall_samples_reach_history_after_every_older_sample():
    source = HeldSource()
    monitor = Monitor(source, interval=10, rate_hz=50)
    seen = []
    original = monitor.history.add
    monitor.history.add = lambda s: (seen.append(s.mono), original(s))[1]
    threading.Timer(0.3, source.held.set).start()
    threading.Timer(1.3, source.release.set).start()
    monitor.run(1.8)
    assert seen == sorted(seen)


def test_take_peak_is_the_highest_backlog_since_the_last_take():
    monitor = Monitor(HeldSource(), interval=1, rate_hz=50)
    base = HeldSource().poll()
    monitor.add([replace(base, status=replace(base.status, backlog=b)) for b in (3, 40, 7)])
    assert monitor.take_peak() == 40
    assert monitor.take_peak() is None


# -- the change path through the Monitor -------------------------------------------

def running(source, **kwargs) -> Monitor:
    monitor = Monitor(source, interval=0.5, rate_hz=40, **kwargs)
    monitor.start()
    deadline = time.monotonic() + 2
    while monitor.snapshot().status is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return monitor


def test_a_change_is_read_back_from_the_next_answer_and_published_at_once():
    source = ScriptedSource(healthy())
    monitor = running(source)
    try:
        outcome = monitor.change(Proposal("backlog_limit", 8192, 16384, "double"))
        assert (outcome.old, outcome.new, outcome.held) == (8192, 16384, False)
        # the snapshot holding the read-back value is out before change() returns
        assert monitor.snapshot().status.backlog_limit == 16384
    finally:
        monitor.stop()


def test_a_set_the_kernel_holds_is_applied_and_said_so():
    source = ScriptedSource(auditd_stopped())
    monitor = running(source)
    source.throttle(2.0)  # polls answer, senders are held
    try:
        outcome = monitor.change(Proposal("backlog_limit", 64, 8192, "exact value"))
        assert outcome.new == 8192 and outcome.held
        assert "applied" in outcome.text() or "read back" in outcome.text()
        assert "holding auditop's sender" in outcome.text()
        assert "unchanged" not in outcome.text()
    finally:
        monitor.stop()


def test_with_failure_2_a_risky_change_needs_the_explicit_word():
    source = ScriptedSource(panic_mode())
    monitor = running(source)
    try:
        with pytest.raises(PanicRisk, match="panic"):
            monitor.change(Proposal("backlog_limit", 8192, 4096, "halve"))
        assert source.writes == []
        outcome = monitor.change(Proposal("backlog_limit", 8192, 4096, "halve"),
                                 panic_confirmed=True)
        assert source.writes == [("backlog_limit", 4096)] and outcome.new == 4096
        # raising the limit risks nothing: no extra word needed
        monitor.change(Proposal("backlog_limit", 4096, 8192, "double"))
    finally:
        monitor.stop()


class SlowSource(HeldSource):
    def poll(self):
        time.sleep(0.05)
        return super().poll()


def test_stop_returns_at_once_while_a_poll_is_held():
    source = HeldSource()
    monitor = Monitor(source, interval=0.5, rate_hz=20)
    monitor.start()
    time.sleep(0.1)
    source.held.set()
    time.sleep(0.2)
    start = time.monotonic()
    monitor.stop()
    assert time.monotonic() - start < 0.1
    source.release.set()


class BacklogSource(HeldSource):
    """A backlog that is full while `full` is set, empty otherwise; lost flat."""

    def __init__(self) -> None:
        super().__init__()
        self.full = threading.Event()

    def poll(self) -> Sample:
        self.polls += 1
        status = AuditStatus(enabled=1, failure=1, pid=0, backlog_limit=64, lost=0,
                             backlog=64 if self.full.is_set() else 0)
        return Sample(time=time.time(), mono=time.monotonic(), status=status,
                      system=SystemInfo())


def polls_in(source: HeldSource, seconds: float) -> int:
    before = source.polls
    time.sleep(seconds)
    return source.polls - before


def test_a_busy_backlog_is_sampled_faster_until_it_has_been_quiet():
    source = BacklogSource()
    sampler = Sampler(source, rate_hz=10, burst_rate_hz=50)
    threading.Thread(target=sampler.run, args=(lambda s: None, print), daemon=True).start()
    try:
        time.sleep(0.3)
        assert polls_in(source, 1.0) <= 12  # idle: 10 Hz
        source.full.set()
        time.sleep(0.2)
        assert polls_in(source, 1.0) >= 35  # busy: 50 Hz
        source.full.clear()
        time.sleep(0.3)
        assert polls_in(source, 1.0) >= 35  # held fast while the burst may recur
        time.sleep(1.2)
        assert polls_in(source, 1.0) <= 12  # quiet for BURST_HOLD: back to 10 Hz
    finally:
        sampler.stop()
