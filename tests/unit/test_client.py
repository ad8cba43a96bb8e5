"""The kernel client against a scripted kernel (no privilege needed): replies
are received independently of sending, so a sender the kernel holds hides
nothing and blocks no one."""

from __future__ import annotations

import errno
import time

import pytest

from auditop.core.errors import (AuditError, InvalidValue, NoAnswer, NotInitialPidNamespace,
                                 NotPrivileged, SendersHeld)
from auditop.kernel import client as client_module
from auditop.kernel.client import AuditClient
from tests.unit.fake_kernel import FakeKernel, ThreadSenders


@pytest.fixture
def kernel():
    fake = FakeKernel(backlog_limit=64)
    client = AuditClient(timeout=0.5, sock=fake.client_sock, pool=ThreadSenders(fake))
    yield fake, client
    client.close()
    fake.close()


def test_get_status_decodes_the_reply(kernel):
    fake, client = kernel
    fake.status["backlog"] = 17
    status = client.get_status()
    assert (status.backlog, status.backlog_limit, status.failure) == (17, 64, 1)


def test_set_sends_one_field_and_waits_for_the_ack(kernel):
    fake, client = kernel
    ack = client.set("backlog_limit", 128)
    assert fake.sets == [("backlog_limit", 128)]
    assert (ack.field, ack.value, ack.acked, ack.held) == ("backlog_limit", 128, True, False)


def test_a_change_lets_its_read_back_poll_go_at_once(kernel):
    fake, client = kernel
    client.expect_hold(2.0)  # the last answer: over the limit, senders held 2 s
    client.set("backlog_limit", 8192)
    assert client._pool.expected_hold == 0.0  # the next answer says how long, if at all


def test_kernel_eperm_is_not_privileged(kernel):
    fake, client = kernel
    fake.refuse_errno = errno.EPERM
    with pytest.raises(NotPrivileged, match="CAP_AUDIT_CONTROL"):
        client.get_status()


def test_eperm_outside_the_initial_pid_namespace_says_so(kernel, monkeypatch):
    fake, client = kernel
    monkeypatch.setattr(client_module, "in_initial_pid_namespace", lambda: False)
    fake.refuse_errno = errno.EPERM
    with pytest.raises(NotInitialPidNamespace, match="initial pid namespace"):
        client.get_status()


def test_kernel_einval_names_the_value(kernel):
    fake, client = kernel
    with pytest.raises(InvalidValue, match="backlog_wait_time = 150001"):
        client.set("backlog_wait_time", 150001)
    assert fake.status["backlog_wait_time"] == 15000


def test_a_dropped_reply_is_no_answer_not_a_hang(kernel):
    fake, client = kernel
    fake.drop_next_reply = True
    start = time.monotonic()
    with pytest.raises(NoAnswer, match="no answer"):
        client.get_status()
    assert time.monotonic() - start < 1.0
    assert client.get_status().backlog_limit == 64  # the next request works


def test_an_answer_asked_for_earlier_is_read_without_waiting(kernel):
    fake, client = kernel
    fake.status["backlog"] = 9
    pending = client.ask_status()  # sent: the answer waits in the socket
    deadline = time.monotonic() + 1
    while not client._poll.poll(0) and time.monotonic() < deadline:
        time.sleep(0.005)  # the thread sender and the fake kernel answer
    start = time.monotonic()
    assert client.answer(pending).backlog == 9
    assert time.monotonic() - start < 0.05  # it was there: read, not waited for
    # a dropped answer is NoAnswer at the request's own deadline, not later
    fake.drop_next_reply = True
    pending = client.ask_status()
    with pytest.raises(NoAnswer):
        client.answer(pending)
    assert time.monotonic() <= pending.deadline + 0.2


def test_the_answer_arrives_while_the_kernel_holds_the_sender(kernel):
    fake, client = kernel
    fake.hold.set()
    fake.status["backlog"] = 65
    start = time.monotonic()
    assert client.get_status().backlog == 65
    assert time.monotonic() - start < 0.3
    time.sleep(0.15)
    count, longest = client.held()
    assert count == 1 and longest >= 0.15
    # the next request goes through another sender, and is answered too
    assert client.get_status().backlog == 65


def test_held_senders_are_bounded_and_the_next_request_fails_at_once(kernel):
    fake, client = kernel
    fake.hold.set()
    for _ in range(4):
        client.get_status()
    start = time.monotonic()
    with pytest.raises(SendersHeld, match="4 of auditop.s senders"):
        client.get_status()
    assert time.monotonic() - start < 0.1
    # a change still gets the reserved sender, and is applied
    ack = client.set("backlog_limit", 8192)
    assert ack.acked and ack.held and fake.status["backlog_limit"] == 8192
    fake.wake.set()
    time.sleep(0.1)
    assert client.held() == (0, 0.0)
    assert client.get_status().backlog_limit == 8192


def test_close_wakes_every_waiting_caller(kernel):
    fake, client = kernel
    fake.drop_next_reply = True
    client.timeout = 5
    import threading
    errors = []

    def wait() -> None:
        try:
            client.get_status()
        except AuditError as exc:
            errors.append(exc)
    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.1)
    client.close()
    thread.join(1)
    assert not thread.is_alive() and "closed" in str(errors[0])
