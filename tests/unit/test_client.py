"""The kernel client against a scripted kernel socket (no privilege needed)."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from auditop.kernel.client import AuditClient
from auditop.kernel.errors import AuditLocked, InvalidValue, NoAnswer, NotPrivileged
from tests.unit.fake_kernel import FakeKernelSocket


@pytest.fixture(params=[True, False], ids=["guarded", "direct"])
def kernel(request):
    sock = FakeKernelSocket(backlog_limit=64)
    client = AuditClient(timeout=0.5, guarded=request.param, sock=sock)
    yield sock, client
    sock.wake.set()
    client.close()


def test_get_status_decodes_the_reply(kernel):
    sock, client = kernel
    sock.status["backlog"] = 17
    status = client.get_status()
    assert (status.backlog, status.backlog_limit, status.failure) == (17, 64, 1)


@pytest.mark.parametrize("ack_first", [True, False])
def test_set_sends_one_field_and_reads_it_back(kernel, ack_first):
    sock, client = kernel
    sock.ack_first = ack_first
    result = client.set("backlog_limit", 128)
    assert sock.sets == [("backlog_limit", 128)]
    assert (result.field, result.old, result.requested, result.new) == \
        ("backlog_limit", 64, 128, 128)


def test_locked_audit_is_refused_before_anything_is_sent(kernel):
    sock, client = kernel
    sock.status["enabled"] = 2
    with pytest.raises(AuditLocked, match="locked.*until reboot"):
        client.set("backlog_limit", 128)
    assert sock.sets == []
    assert sock.status["backlog_limit"] == 64


def test_kernel_eperm_is_not_privileged(kernel):
    sock, client = kernel
    sock.refuse_errno = errno.EPERM
    with pytest.raises(NotPrivileged, match="CAP_AUDIT_CONTROL"):
        client.get_status()


def test_kernel_einval_names_the_value(kernel):
    sock, client = kernel
    with pytest.raises(InvalidValue, match="backlog_wait_time = 150001"):
        client.set("backlog_wait_time", 150001)
    assert sock.status["backlog_wait_time"] == 15000


def test_a_dropped_reply_is_no_answer_not_a_hang(kernel):
    sock, client = kernel
    sock.drop_next_reply = True
    with pytest.raises(NoAnswer, match="no answer"):
        client.get_status()
    assert client.get_status().backlog_limit == 64  # the next request works


def test_guarded_client_returns_while_the_kernel_holds_the_sender():
    sock = FakeKernelSocket()
    client = AuditClient(timeout=0.3, guarded=True, sock=sock)
    sock.sleep_in_send.set()
    start = time.monotonic()
    with pytest.raises(NoAnswer):
        client.get_status()
    assert time.monotonic() - start < 0.6
    # Still asleep: the next call waits for the same request, never queues another.
    with pytest.raises(NoAnswer, match=r"no answer from the kernel for 0\.[5-9]|1\."):
        client.get_status()
    sock.sleep_in_send.clear()
    sock.wake.set()
    assert client.get_status().enabled == 1
    client.close()


def test_direct_client_is_safe_to_share_between_threads():
    sock = FakeKernelSocket()
    client = AuditClient(timeout=1, guarded=False, sock=sock)
    results = []
    threads = [threading.Thread(target=lambda: results.append(client.get_status()))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(r.backlog_limit == 64 for r in results)
