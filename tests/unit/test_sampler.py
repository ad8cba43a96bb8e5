"""The sampler and the headless window loop, with a source that can hold
the poller the way the kernel does."""

from __future__ import annotations

import threading
import time

import pytest

from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.sampler import Sampler, sample_windows
from auditop.kernel.errors import NotPrivileged


class HeldSource:
    """Answers at once, except while `held` is set: then poll() blocks like a
    sender the kernel put to sleep, until `release` is set."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.polls = 0
        self.held = threading.Event()
        self.release = threading.Event()
        self.fail_after = fail_after

    def poll(self) -> Sample:
        self.polls += 1
        if self.fail_after is not None and self.polls > self.fail_after:
            raise NotPrivileged()
        if self.held.is_set():
            self.release.wait(5)
        status = AuditStatus(enabled=1, failure=1, pid=0, backlog_limit=64,
                             lost=self.polls, backlog=self.polls % 7)
        return Sample(time=time.time(), mono=time.monotonic(), status=status,
                      system=SystemInfo())

    def set(self, field, value):
        raise AssertionError("not used")

    def close(self):
        pass


def test_windows_at_the_sampling_rate():
    windows = []
    sample_windows(HeldSource(), interval=0.2, rate_hz=50, duration=1.05,
                   on_window=lambda w, h: windows.append(w))
    assert 5 <= len(windows) <= 7
    full = windows[:-1]
    assert all(7 <= w.samples <= 11 for w in full)  # ~10 polls per 0.2 s at 50 Hz
    assert all(w.lost_per_s and w.lost_per_s > 0 for w in full[1:])


def test_a_held_poller_is_recorded_as_silence_with_real_times():
    source = HeldSource()
    windows = []

    def hold_then_release():
        time.sleep(0.3)
        source.held.set()
        time.sleep(1.2)
        source.held.clear()
        source.release.set()

    threading.Thread(target=hold_then_release, daemon=True).start()
    start = time.time()
    sample_windows(source, interval=0.25, rate_hz=20, duration=2.0,
                   on_window=lambda w, h: windows.append(w))
    silent = [w for w in windows if w.samples == 0]
    assert silent, "windows while the kernel held the poller"
    assert all(w.failures > 0 and "not answering" in w.error for w in silent)
    assert all(w.status is None and w.backlog_peak is None for w in silent)
    ends = [w.end for w in windows]
    assert ends == sorted(ends) and start <= ends[0] and ends[-1] <= time.time()
    assert windows[-1].samples > 0  # answers again after the release


def test_a_fatal_error_ends_sampling_with_that_error():
    with pytest.raises(NotPrivileged):
        sample_windows(HeldSource(fail_after=3), interval=0.1, rate_hz=50,
                       duration=2, on_window=lambda w, h: None)


def test_stall_sample_only_after_the_threshold():
    source = HeldSource()
    sampler = Sampler(source, rate_hz=20)
    delivered = []
    thread = threading.Thread(target=sampler.run, args=(delivered.append, print),
                              daemon=True)
    thread.start()
    time.sleep(0.2)
    assert sampler.stall_sample(0.5) is None
    source.held.set()
    time.sleep(0.8)
    stall = sampler.stall_sample(0.5)
    assert stall is not None and stall.status is None
    assert stall.poll_seconds >= 0.5 and "not answering" in stall.error
    source.release.set()
    sampler.stop()
    thread.join(2)
    assert not thread.is_alive()


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
