"""The sender pool's pacing, on a scripted clock. The senders are real child
processes writing into a socketpair; a send counts as under way until its
report is taken (sent()), as in the client, so 'held' is the clock's say."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from auditop.kernel.senders import HELD_AFTER, SenderPool
from tests.clock import Clock


@pytest.fixture
def pool():
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    clock = Clock(100.0)
    senders = SenderPool(theirs.fileno(), limit=6, clock=clock)
    senders.clock = clock
    yield senders
    senders.close()
    ours.close()
    theirs.close()


def message(seq: int) -> bytes:
    return (16).to_bytes(4, "little") + bytes(4) + seq.to_bytes(4, "little") + bytes(4)


def test_polls_go_out_back_to_back_while_nothing_says_the_kernel_holds(pool):
    for seq in range(1, 4):
        pool.send(message(seq), seq)
        pool.clock.now += 0.02
    assert len(pool._senders) == 3


def test_the_first_throttled_answer_spaces_polls_before_any_sender_is_known_held(pool):
    # The answer to seq 1 said: backlog over its limit, a 2 s wait. Its sender
    # is still in send(), for 0.02 s only (not yet 'held'), when the sampler,
    # at 50 Hz, asks again.
    pool.send(message(1), 1)
    pool.expected_hold = 2.0
    pool.clock.now += 0.02
    assert 0.02 < HELD_AFTER
    with pytest.raises(LookupError) as refused:
        pool.send(message(2), 2)
    assert refused.value.args[0] == 1  # one sender under way
    pool.clock.now += 2.0 / 6 - 0.02 + 0.001
    pool.send(message(2), 2)  # its turn: one every 2 s / 6 senders
    assert len(pool._senders) == 2


def test_a_change_is_never_paced(pool):
    pool.send(message(1), 1)
    pool.expected_hold = 2.0
    pool.clock.now += 0.01
    change = pool.send(message(2), 2, reserved=True)
    assert pool.is_busy(change) and len(pool._senders) == 2


def test_a_sender_that_reported_frees_the_pace(pool):
    first = pool.send(message(1), 1)
    pool.expected_hold = 2.0
    pool.clock.now += 0.02
    pool.sent(first.ident)  # not held after all: send() returned
    assert pool.send(message(2), 2) is first


def test_six_held_senders_refuse_a_seventh_poll_but_not_a_change(pool):
    pool.expected_hold = 2.0
    for seq in range(1, 7):
        pool.send(message(seq), seq)
        pool.clock.now += 0.34
    with pytest.raises(LookupError):
        pool.send(message(7), 7)
    pool.send(message(8), 8, reserved=True)


def test_a_change_neither_waits_for_nor_delays_the_polls_pace(pool):
    pool.send(message(1), 1)  # a poll; its answer said: over the limit, 2 s
    pool.expected_hold = 2.0
    pool.clock.now += 0.02
    pool.send(message(2), 2, reserved=True)  # the change goes at once
    pool.expected_hold = 0.0  # the client, after a change: the next answer will say
    pool.clock.now += 0.01
    pool.send(message(3), 3)  # the read-back poll goes at once too
    assert len(pool._senders) == 3


def _kill(sender) -> None:
    os.kill(sender.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while sender.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sender.process.returncode == -signal.SIGKILL


def test_a_sender_killed_while_idle_is_replaced_by_the_next_request(pool):
    first = pool.send(message(1), 1)
    pool.sent(first.ident)
    _kill(first)  # the OOM killer, or `pkill python`
    pool.clock.now += 0.1
    second = pool.send(message(2), 2)
    assert second is not first and pool.is_busy(second)
    assert pool._senders == [second] and pool.deaths == 1
    assert pool.held(HELD_AFTER) == (0, 0.0)  # nothing left 'busy' by the dead one


def test_a_sender_killed_with_a_request_is_reaped_and_its_request_returned(pool):
    carrier = pool.send(message(7), 7)
    _kill(carrier)
    assert pool.reap() == []  # not yet asked: a request this young is not checked
    pool.clock.now += HELD_AFTER + 0.01
    assert pool.reap() == [7]
    assert carrier not in pool._senders and pool.deaths == 1
    assert pool.held(HELD_AFTER) == (0, 0.0)


def test_a_dead_sender_does_not_slow_the_pace(pool):
    """Before: the dead child stayed busy for ever, counted as held, and the
    pace (hold / 6) grew with its age: 10, 9, 5, 2, 1 answers per window."""
    carrier = pool.send(message(1), 1)
    _kill(carrier)
    pool.clock.now += 30.0
    pool.reap()
    for seq in range(2, 12):  # ten polls in one second go out
        pool.send(message(seq), seq)
        pool.sent(pool._senders[-1].ident)
        pool.clock.now += 0.1
    assert pool.deaths == 1 and len(pool._senders) == 1


def test_a_live_held_sender_is_not_reaped(pool):
    held = pool.send(message(1), 1)
    pool.clock.now += 5.0
    assert pool.reap() == []
    assert pool.is_busy(held) and pool.held(HELD_AFTER)[0] == 1
