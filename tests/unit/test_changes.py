"""The one change path shared by `auditop set` and the TUI: what a key
proposes, what a change risks, the failure = 2 guard, and apply's read-back
from the next answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditop.core.changes import (NoProposal, PanicRisk, Proposal, SetAck, apply, guard,
                                  propose, risks)
from auditop.core.errors import AuditLocked, InvalidValue, NotPrivileged
from auditop.sources.scripted import HEALTHY_STATUS

STATUS = replace(HEALTHY_STATUS, backlog_limit=8192, backlog=10)
PANIC = replace(STATUS, failure=2)


@pytest.mark.parametrize("action,limit,expected", [
    ("double", 8192, 16384), ("halve", 8192, 4096), ("double", 2**31, 2**32 - 1),
    ("halve", 3, 1), ("restore", 100, 8192)])
def test_keys_propose(action, limit, expected):
    proposal = propose(action, replace(STATUS, backlog_limit=limit), found=8192)
    assert (proposal.old, proposal.new) == (limit, expected)


@pytest.mark.parametrize("action,limit,found,says", [
    ("double", 0, 8192, "unlimited"), ("halve", 1, 8192, "cannot be halved"),
    ("restore", 8192, 8192, "already 8192"), ("restore", 8192, None, "not read")])
def test_nothing_to_propose_is_a_notice(action, limit, found, says):
    with pytest.raises(NoProposal, match=says):
        propose(action, replace(STATUS, backlog_limit=limit), found=found)


def test_no_status_no_proposal():
    with pytest.raises(NoProposal, match="not known yet"):
        propose("double", None)


@pytest.mark.parametrize("field,old,new,backlog,count", [
    ("backlog_limit", 8192, 16384, 10, 0),  # raising the limit risks nothing
    ("backlog_limit", 8192, 4096, 10, 1),  # lower: fills sooner
    ("backlog_limit", 8192, 64, 500, 2),  # ... and the backlog is over it already
    ("backlog_limit", 8192, 0, 10, 0),  # unlimited: never full (memory instead)
    ("rate_limit", 0, 100, 10, 1), ("rate_limit", 100, 0, 10, 0),
    ("backlog_wait_time", 15000, 0, 10, 1), ("backlog_wait_time", 15000, 100, 10, 1),
    ("backlog_wait_time", 100, 15000, 10, 0)])
def test_risks_name_every_way_waiting_turns_into_loss(field, old, new, backlog, count):
    found = risks(Proposal(field, old, new, "x"), replace(STATUS, backlog=backlog))
    assert len(found) == count, found


def test_the_guard_refuses_a_risky_change_under_failure_2_without_the_word():
    risky = Proposal("backlog_limit", 8192, 4096, "halve")
    with pytest.raises(PanicRisk, match="first lost record panic"):
        guard(risky, PANIC, panic_confirmed=False)
    guard(risky, PANIC, panic_confirmed=True)
    guard(risky, STATUS, panic_confirmed=False)  # failure 1: the dialog's risk line is enough
    guard(Proposal("backlog_limit", 8192, 16384, "double"), PANIC, panic_confirmed=False)
    with pytest.raises(AuditLocked):
        guard(risky, replace(STATUS, enabled=2), panic_confirmed=True)


class Kernel:
    def __init__(self, error=None, held=False, answer=STATUS):
        self.error, self.held, self.answer, self.sent, self.asked = error, held, answer, [], []

    def send(self, field, value):
        self.sent.append((field, value))
        if self.error:
            raise self.error
        return SetAck(field, value, acked=True, held=self.held)

    def next_answer(self, after, timeout):
        self.asked.append(after)
        return self.answer


def test_apply_reads_back_from_the_next_answer_and_logs():
    kernel, log = Kernel(answer=replace(STATUS, backlog_limit=16384)), []
    outcome = apply(Proposal("backlog_limit", 8192, 16384, "double"), send=kernel.send,
                    next_answer=kernel.next_answer, status=STATUS,
                    log=lambda *entry: log.append(entry), clock=lambda: 42.0)
    assert kernel.sent == [("backlog_limit", 16384)] and kernel.asked == [42.0]
    assert (outcome.new, outcome.held, outcome.as_asked) == (16384, False, True)
    assert log == [("backlog_limit", 8192, 16384, "ok")]
    assert outcome.text() == "backlog_limit: 8192 -> 16384 (read back from the kernel)"


def test_the_read_back_poll_is_one_sent_after_the_kernel_answered_the_set():
    # A poll handed to a sender while the SET's sender had not run yet reads
    # the old value (seen in CI: "asked for 8192, the kernel reads back 64").
    now = [10.0]

    class Slow(Kernel):
        def send(self, field, value):
            now[0] = 10.3  # the ACK came 0.3 s after the SET was handed over
            return super().send(field, value)
    kernel = Slow(answer=replace(STATUS, backlog_limit=16384))
    apply(Proposal("backlog_limit", 8192, 16384, "double"), send=kernel.send,
          next_answer=kernel.next_answer, status=STATUS, clock=lambda: now[0])
    assert kernel.asked == [10.3]


def test_a_held_set_is_applied_and_says_so_never_unchanged():
    kernel = Kernel(held=True, answer=replace(STATUS, backlog_limit=16384))
    outcome = apply(Proposal("backlog_limit", 64, 16384, "x"), send=kernel.send,
                    next_answer=kernel.next_answer, status=STATUS)
    assert outcome.held and "holding auditop's sender" in outcome.text()
    assert "unchanged" not in outcome.text()


def test_no_answer_after_the_set_says_applied_not_read_back():
    kernel = Kernel(answer=None)
    outcome = apply(Proposal("backlog_limit", 64, 128, "x"), send=kernel.send,
                    next_answer=kernel.next_answer, status=STATUS)
    assert outcome.new is None and "not read back yet" in outcome.text()


def test_a_value_the_kernel_clamps_is_reported_as_read_back():
    kernel = Kernel(answer=replace(STATUS, backlog_limit=100))
    outcome = apply(Proposal("backlog_limit", 64, 128, "x"), send=kernel.send,
                    next_answer=kernel.next_answer, status=STATUS)
    assert not outcome.as_asked and "reads back 100" in outcome.text()


@pytest.mark.parametrize("error", [InvalidValue("x"), NotPrivileged()])
def test_a_refused_set_is_logged_and_raised(error):
    kernel, log = Kernel(error=error), []
    with pytest.raises(type(error)):
        apply(Proposal("backlog_limit", 64, 128, "x"), send=kernel.send,
              next_answer=kernel.next_answer, status=STATUS,
              log=lambda *entry: log.append(entry))
    assert log == [("backlog_limit", 64, 128, str(error))]


def test_eperm_from_a_lock_in_between_is_said_as_the_lock():
    error = NotPrivileged()
    error.errno = 1
    kernel = Kernel(error=error, answer=replace(STATUS, enabled=2))
    with pytest.raises(AuditLocked):
        apply(Proposal("backlog_limit", 64, 128, "x"), send=kernel.send,
              next_answer=kernel.next_answer, status=STATUS)


def test_nothing_is_sent_when_the_guard_refuses():
    kernel = Kernel()
    with pytest.raises(PanicRisk):
        apply(Proposal("rate_limit", 0, 10, "x"), send=kernel.send,
              next_answer=kernel.next_answer, status=PANIC)
    assert kernel.sent == []
