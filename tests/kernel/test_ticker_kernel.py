"""The ticker (kernel/ticker.py) on the real kernel: it answers at its pace,
a poll asked for comes at once, and when it dies the senders take the pace
back without a window losing its answers (sources/live.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from auditop.kernel import wire
from auditop.kernel.ticker import Ticker
from auditop.sources.live import TICKER_CALM, LiveSource


def statuses(answers):
    return [wire.decode_status(wire.split(a.data)[0]) for a in answers]


def test_the_ticker_polls_at_its_pace_and_says_when_each_poll_went_out(kernel_lock,
                                                                       kernel_status):
    ticker = Ticker(0.05, 0.01, 0.25, 2.0)
    try:
        time.sleep(0.3)
        ticker.read()  # its start-up
        time.sleep(1.0)
        answers = ticker.read()
    finally:
        ticker.close()
    assert 15 <= len(answers) <= 25, len(answers)  # 20 a second at 0.05 s
    assert all(a.errno == 0 for a in answers)
    assert {s.backlog_limit for s in statuses(answers)} == {kernel_status.backlog_limit}
    # Each answer is read at the tick after its request: a period later.
    gaps = [a.read_mono - a.sent_mono for a in answers]
    assert all(0.03 <= gap <= 0.2 for gap in gaps), gaps
    reads = [a.read_mono for a in answers]
    assert reads == sorted(reads)


def test_a_poll_asked_for_comes_at_once(kernel_lock, kernel_status):
    ticker = Ticker(30.0, 30.0, 0.25, 2.0)  # on its own, the next poll in 30 s
    try:
        time.sleep(0.5)
        assert ticker.read() == []  # its first answer waits for the next tick
        ticker.poll_now()
        deadline = time.monotonic() + 2.0
        answers = []
        while not answers and time.monotonic() < deadline:
            time.sleep(0.02)
            answers = ticker.read()
    finally:
        ticker.close()
    assert len(answers) == 1 and statuses(answers)[0].backlog_limit is not None


def test_a_closed_ticker_ends_and_a_killed_one_is_seen_to_end(kernel_lock, kernel_status):
    closed = Ticker(0.1, 0.02, 0.25, 2.0)
    closed.close()
    assert closed.process.wait(timeout=2.0) == 0
    killed = Ticker(0.1, 0.02, 0.25, 2.0)
    try:
        time.sleep(0.3)
        os.kill(killed.process.pid, signal.SIGKILL)
        killed.process.wait(timeout=2.0)
        killed.read()
        assert killed.ended
    finally:
        killed.close()


@contextlib.contextmanager
def ticking_monitor(interval: float):
    """A Monitor driving LiveSource(ticker=True), once its ticker has the pace."""
    from auditop.core.monitor import Monitor

    source = LiveSource(ticker=True)
    monitor = Monitor(source, interval=interval, rate_hz=10)
    monitor.connect(lambda snapshot: None)
    monitor.start()
    try:
        deadline = time.monotonic() + 3.0
        while not source.ticking and time.monotonic() < deadline:
            time.sleep(0.05)
        assert source.ticking, "no ticker took the pace"
        yield monitor, source
    finally:
        monitor.stop()
        source.close()


def test_when_the_ticker_dies_the_senders_take_over_and_no_answer_is_missed(
        kernel_lock, kernel_status):
    with ticking_monitor(0.5) as (monitor, source):
        time.sleep(1.0)
        first = source._ticker.process
        first.kill()
        killed = time.time()
        time.sleep(0.3)
        assert not source.ticking  # the hang-up woke the Monitor: senders poll
        time.sleep(TICKER_CALM + 1.5)
        assert source.ticking and source._ticker.process is not first  # calm again
        windows = [w for w in monitor.history.windows if w.start > killed - 0.5]
    assert len(windows) >= 10
    # 5 answers a window at 10 Hz; the hand-overs may move one across a window
    assert all(w.failures == 0 and 4 <= w.samples <= 6 for w in windows[:-1]), [
        (w.samples, w.failures) for w in windows]
    assert not monitor.snapshot().latest.throttled


def test_a_change_is_read_back_at_once_while_the_ticker_keeps_the_pace(
        kernel_lock, kernel_status):
    from auditop.core.changes import Proposal
    from auditop.kernel.client import AuditClient

    found = kernel_status.backlog_limit
    try:
        with ticking_monitor(1.0) as (monitor, source):
            time.sleep(0.3)  # mid-window: the Monitor's thread pauses until the next one
            started = time.monotonic()
            outcome = monitor.change(Proposal("backlog_limit", found, found + 1,
                                              "exact value"))
            took = time.monotonic() - started
            assert outcome.new == found + 1 and outcome.as_asked, outcome
            assert took < 0.6, took  # not a window later
            assert source.ticking  # the ticker read it back
    finally:
        with AuditClient() as client:
            client.set("backlog_limit", found)
