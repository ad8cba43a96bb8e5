"""Paced sampling: a source whose child keeps the pace (the live source's
ticker) hands over the answers it collected, and the Monitor's one thread
takes them at every wake, pausing until a window is due rather than a
STALL_CHECK apart. All on a fake clock: the Monitor's pause moves it."""

from __future__ import annotations

import os
import select

import pytest

from auditop.core.errors import SendersHeld
from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.monitor import COLLECT_SLACK, STALL_CHECK, Monitor
from auditop.core.sampler import COLLECT_EVERY, Sampler
from auditop.sources.scripted import EPOCH
from tests.clock import Clock


def sample_at(mono: float, backlog: int = 0) -> Sample:
    status = AuditStatus(enabled=1, failure=1, pid=0, backlog_limit=64, lost=0,
                         backlog=backlog)
    return Sample(time=EPOCH + mono, mono=mono, status=status,
                  system=SystemInfo(read_at=mono), poll_seconds=0.0)


class PacedSource:
    """A source with a pacing child. `collect()` hands over what `collected`
    says (a list of prepared Samples, or a callable returning them); it stops
    ticking when `stop_after` collects have been made. `poll()` answers at
    the clock's time, or raises `poll_error`."""

    def __init__(self, clock: Clock, *, ticking: bool = True, collected=(),
                 stop_after: int | None = None, ticker_fd: int | None = 99) -> None:
        self.clock = clock
        self.ticking = ticking
        self._fd = ticker_fd
        self.collected = collected
        self.stop_after = stop_after
        self.paces: list[tuple[float, float]] = []
        self.collects = 0
        self.polls = 0
        self.poll_error: BaseException | None = None
        self.start_ticking_on_poll = False

    @property
    def ticker_fd(self) -> int | None:
        return self._fd if self.ticking else None

    def pace_with(self, period: float, fast_period: float) -> None:
        self.paces.append((period, fast_period))

    def collect(self) -> list[Sample]:
        assert self.ticking, "collect() while no child keeps the pace"
        self.collects += 1
        samples = self.collected() if callable(self.collected) else list(self.collected)
        if self.stop_after is not None and self.collects >= self.stop_after:
            self.ticking = False
        return samples

    def poll(self) -> Sample:
        assert not self.ticking, "poll() while a child keeps the pace"
        self.polls += 1
        if self.poll_error is not None:
            raise self.poll_error
        if self.start_ticking_on_poll:
            self.ticking = True
        return sample_at(self.clock.now)

    def set(self, field, value):
        raise AssertionError("not used")

    def close(self) -> None:
        pass


class FakePause:
    """Stands in for the Monitor's select.poll(): registrations go to a real
    one, a pause moves the fake clock instead of sleeping and nothing wakes it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.real = select.poll()
        self.pauses: list[float] = []

    def register(self, fd, mask=select.POLLIN | select.POLLPRI | select.POLLOUT):
        self.real.register(fd, mask)

    def unregister(self, fd) -> None:
        self.real.unregister(fd)

    def poll(self, timeout_ms=None):
        assert timeout_ms is not None and timeout_ms > 0
        self.pauses.append(timeout_ms / 1000)
        self.clock.now += timeout_ms / 1000
        return []


# -- the Sampler ---------------------------------------------------------------------------

def test_the_sampler_tells_a_source_that_can_be_paced_its_periods():
    clock = Clock()
    source = PacedSource(clock, ticking=False)
    Sampler(source, rate_hz=10, clock=clock, burst_rate_hz=50)
    assert source.paces == [(pytest.approx(0.1), pytest.approx(0.02))]
    # a burst rate below the rate: the burst period is never the longer one
    slow = PacedSource(clock, ticking=False)
    Sampler(slow, rate_hz=100, clock=clock, burst_rate_hz=50)
    assert slow.paces == [(pytest.approx(0.01), pytest.approx(0.01))]
    # the Monitor's Sampler tells it too, once
    watched = PacedSource(clock, ticking=False)
    Monitor(watched, rate_hz=20, burst_rate_hz=40, clock=clock, wall=clock.wall)
    assert watched.paces == [(pytest.approx(0.05), pytest.approx(0.025))]


def test_paced_a_poll_returns_everything_collected_in_order():
    clock = Clock()
    prepared = [sample_at(999.7), sample_at(999.8, backlog=5), sample_at(999.9)]
    source = PacedSource(clock, collected=prepared)
    sampler = Sampler(source, rate_hz=10, clock=clock)
    assert sampler.paced and sampler.paced_fd == 99
    got = sampler.poll()
    assert len(got) == 3 and all(a is b for a, b in zip(got, prepared))
    assert sampler.last is prepared[-1]
    assert sampler.next_at == clock.now + COLLECT_EVERY
    assert (source.collects, source.polls) == (1, 0)
    # nothing collected since: nothing returned, the last answer kept
    source.collected = []
    clock.now += 0.5
    assert sampler.poll() == []
    assert sampler.last is prepared[-1]
    assert sampler.next_at == clock.now + COLLECT_EVERY


def test_when_the_child_stops_the_senders_poll_at_once():
    clock = Clock()
    last = sample_at(999.95)
    source = PacedSource(clock, collected=[last], stop_after=1)
    sampler = Sampler(source, rate_hz=10, clock=clock)
    clock.now += 0.3
    assert sampler.poll() == [last]
    assert not sampler.paced and sampler.paced_fd is None
    assert sampler.last is last
    assert sampler.next_at == clock.now  # due now, not a COLLECT_EVERY from now
    got = sampler.poll()
    assert (source.collects, source.polls) == (1, 1)
    assert len(got) == 1 and got[0].mono == clock.now and got[0].status is not None
    assert sampler.last is got[0]
    assert sampler.next_at == pytest.approx(clock.now + sampler.period)


def test_a_poll_that_hands_the_pace_to_a_child_collects_a_period_later():
    clock = Clock()
    source = PacedSource(clock, ticking=False)
    source.start_ticking_on_poll = True
    sampler = Sampler(source, rate_hz=10, clock=clock)
    assert len(sampler.poll()) == 1
    assert sampler.paced
    assert sampler.next_at == clock.now + COLLECT_EVERY


def test_per_poll_nothing_while_the_kernel_holds_every_sender():
    clock = Clock()
    source = PacedSource(clock, ticking=False)
    sampler = Sampler(source, rate_hz=10, clock=clock)
    assert not sampler.paced and sampler.paced_fd is None
    held = SendersHeld(4, 1.5)
    source.poll_error = held
    assert sampler.poll() == []
    assert sampler.held is held and sampler.last is None
    source.poll_error = None
    clock.now = sampler.next_at
    got = sampler.poll()
    assert len(got) == 1 and got[0].mono == clock.now
    assert sampler.held is None and sampler.last is got[0]
    assert source.polls == 2 and source.collects == 0


# -- the Monitor's pause -------------------------------------------------------------------

def paced_monitor(interval: float, **source_kwargs) -> tuple[Monitor, PacedSource, Clock]:
    clock = Clock()
    source = PacedSource(clock, **source_kwargs)
    monitor = Monitor(source, interval=interval, rate_hz=10, clock=clock, wall=clock.wall)
    return monitor, source, clock


def test_paced_the_pause_lasts_until_the_window_is_due():
    monitor, source, clock = paced_monitor(0.5)
    source.collected = [sample_at(clock.now)]
    for sample in monitor._sampler.poll():
        monitor.take(sample)
    assert monitor.history.closes_at == pytest.approx(clock.now + 0.5)
    assert monitor._sampler.next_at == clock.now + COLLECT_EVERY  # later than the window
    pause = monitor._pause_seconds()
    assert pause == pytest.approx(0.5 + COLLECT_SLACK)
    assert pause > STALL_CHECK  # no silence check cuts it short: the child keeps the pace


def test_paced_the_pause_lasts_until_the_next_collect_when_that_is_sooner():
    monitor, source, clock = paced_monitor(5.0)
    source.collected = [sample_at(clock.now)]
    for sample in monitor._sampler.poll():
        monitor.take(sample)
    clock.now += 0.2
    assert monitor._pause_seconds() == pytest.approx(COLLECT_EVERY - 0.2)


def test_paced_a_change_waiting_for_its_read_back_shortens_the_pause_to_a_period():
    monitor, source, clock = paced_monitor(5.0)
    source.collected = [sample_at(clock.now)]
    for sample in monitor._sampler.poll():
        monitor.take(sample)
    monitor._waiting = 1
    try:
        assert monitor._pause_seconds() == pytest.approx(monitor._sampler.period)
    finally:
        monitor._waiting = 0
    assert monitor._pause_seconds() == pytest.approx(COLLECT_EVERY)


def test_per_poll_the_pause_is_capped_at_the_silence_check():
    monitor, source, clock = paced_monitor(5.0, ticking=False)
    monitor._sampler.next_at = clock.now + 3.0  # a poll far off
    assert monitor._pause_seconds() == pytest.approx(STALL_CHECK)
    # the same far-off collect, paced: not capped
    source.ticking = True
    assert monitor._pause_seconds() == pytest.approx(3.0)


# -- run() ---------------------------------------------------------------------------------

def child_reading_every_tenth(clock: Clock):
    """A collect() for a child that reads an answer every 0.1 s from the
    clock's start: each call hands over those read since the last one."""
    start, handed = clock.now, [0]

    def answers() -> list[Sample]:
        due = int(round((clock.now - start) * 10)) + 1
        fresh = [sample_at(start + k / 10) for k in range(handed[0], due)]
        handed[0] = due
        return fresh
    return answers


def run_paced(interval: float, duration: float):
    clock = Clock()
    source = PacedSource(clock, collected=child_reading_every_tenth(clock))
    windows = []
    monitor = Monitor(source, interval=interval, rate_hz=10, clock=clock, wall=clock.wall,
                      on_window=lambda window, snapshot: windows.append(window))
    pause = monitor._pause = FakePause(clock)
    snapshot = monitor.run(duration)
    return snapshot, windows, source, pause, monitor


def test_run_ends_with_a_final_collect_counted_in_the_last_window():
    start = Clock().now
    snapshot, windows, source, pause, monitor = run_paced(1.0, 2.5)
    # wakes at each window (a collect's COLLECT_EVERY away), then the end of the run
    assert pause.pauses == [pytest.approx(1.0), pytest.approx(1.0), pytest.approx(0.5)]
    assert source.collects == 4  # three wakes and the final collect
    assert source.polls == 0
    assert [w.samples for w in windows] == [10, 10, 6]
    # the five answers read since the last wake are in the last window
    assert windows[-1].last.mono == pytest.approx(start + 2.5)
    assert snapshot.windows[-1] is windows[-1]
    assert snapshot.latest.mono == pytest.approx(start + 2.5)
    assert monitor._watched is None  # the child's pipe is no longer watched


def test_paced_a_window_due_before_the_next_collect_wakes_a_collect():
    start = Clock().now
    snapshot, windows, source, pause, monitor = run_paced(0.5, 1.2)
    # each wake just after a window is due, though the next collect is a second away
    assert pause.pauses == [pytest.approx(0.5 + COLLECT_SLACK), pytest.approx(0.5),
                            pytest.approx(0.2 - COLLECT_SLACK)]
    assert source.collects == 4
    # every window holds the answers read in it: collected before it closed
    assert [w.samples for w in windows] == [5, 5, 3]
    assert [w.last.mono for w in windows] == [pytest.approx(start + t)
                                              for t in (0.4, 0.9, 1.2)]


def test_run_per_poll_takes_no_final_collect():
    clock = Clock()
    source = PacedSource(clock, ticking=False)
    monitor = Monitor(source, interval=1.0, rate_hz=10, clock=clock, wall=clock.wall)
    pause = monitor._pause = FakePause(clock)
    monitor.run(0.35)
    assert source.collects == 0 and source.polls == 4  # at 0, 0.1, 0.2, 0.3
    assert all(p <= STALL_CHECK + 1e-9 for p in pause.pauses)


# -- watching the child ------------------------------------------------------------------------

def test_a_pacing_childs_pipe_wakes_the_pause_on_hang_up_only():
    clock = Clock()
    monitor = Monitor(PacedSource(clock, ticking=False), clock=clock, wall=clock.wall)
    read_end, write_end = os.pipe()
    try:
        monitor._watch(read_end)
        assert monitor._watched == read_end
        os.write(write_end, b"answer")
        assert monitor._pause.poll(0) == []  # its answers do not wake the pause
        os.close(write_end)
        write_end = -1
        events = monitor._pause.poll(0)
        assert [fd for fd, _ in events] == [read_end]
        assert events[0][1] & select.POLLHUP
        assert not events[0][1] & select.POLLIN
        monitor._watch(read_end)  # the same pipe again: still registered once
        assert len(monitor._pause.poll(0)) == 1
        monitor._watch(None)
        assert monitor._watched is None
        assert monitor._pause.poll(0) == []
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_a_new_childs_pipe_replaces_the_old_one():
    clock = Clock()
    monitor = Monitor(PacedSource(clock, ticking=False), clock=clock, wall=clock.wall)
    old_read, old_write = os.pipe()
    new_read, new_write = os.pipe()
    try:
        monitor._watch(old_read)
        monitor._watch(new_read)
        os.close(old_write)
        old_write = -1
        assert monitor._pause.poll(0) == []  # the old one's hang-up is not watched
        os.close(new_write)
        new_write = -1
        assert [fd for fd, _ in monitor._pause.poll(0)] == [new_read]
        monitor._watch(None)
    finally:
        for fd in (old_read, old_write, new_read, new_write):
            if fd >= 0:
                os.close(fd)


def test_a_request_runs_after_the_answers_read_before_it_and_before_the_rest():
    """An exporter's fresh snapshot asked mid-batch sees every answer the
    child read before it, and none read after (a drift watch told of a
    change sees no answer to it first)."""
    clock = Clock()
    reading = child_reading_every_tenth(clock)
    seen: list[float] = []
    monitor = None

    def collected():
        samples = reading()
        if monitor is not None and clock.now > 1000.5 and not seen:
            now, clock.now = clock.now, 1000.55  # asked 0.55 s in, taken at this wake
            monitor._request(lambda: seen.append(monitor.history.latest.mono))
            clock.now = now
        return samples

    source = PacedSource(clock, collected=collected)
    monitor = Monitor(source, interval=1.0, rate_hz=10, clock=clock, wall=clock.wall)
    monitor._pause = FakePause(clock)
    monitor.run(1.5)
    assert seen == [pytest.approx(1000.5)]
