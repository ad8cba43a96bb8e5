"""The multicast listener on the real kernel: it joins the audit group with
a large buffer as root, and without CAP_AUDIT_READ it says so in one line.
Read-only (the listener never sends); the records themselves are counted in
tests/scenarios/test_producers.py, under load."""

from __future__ import annotations

import os
import subprocess
import sys

from auditop.probes.multicast import DEFAULT_RCVBUF, MulticastListener
from auditop.probes.netlink import audit_sockets


def test_the_listener_joins_the_audit_group_with_a_large_buffer(kernel_lock):
    listener = MulticastListener()
    try:
        # SO_RCVBUFFORCE as root: the kernel doubles the request, past rmem_max.
        assert listener.rcvbuf >= DEFAULT_RCVBUF
        _, readers = audit_sockets(None)
        assert listener.inode in {row.inode for row in readers}
        assert listener.read_batch() is not None  # never blocks
        assert listener.drops() == 0
    finally:
        listener.close()


def test_without_cap_audit_read_one_line_and_unavailable(kernel_lock):
    result = subprocess.run(
        ["setpriv", "--inh-caps=-audit_read", "--bounding-set=-audit_read",
         sys.executable, "-m", "auditop.probes.multicast", "0.2"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "the audit multicast listener needs CAP_AUDIT_READ: producers come from "
        "auditd's log instead"]


def test_run_false_closes_the_socket_and_true_opens_it_again(kernel_lock):
    import time

    from auditop.probes.multicast import ProducerCounter
    from tests.scenarios.lab import wait_until

    def readers() -> set[int]:
        return {row.inode for row in audit_sockets(None)[1]}

    before = readers()
    with ProducerCounter.start() as counter:
        assert counter.unavailable is None
        assert wait_until(lambda: len(readers() - before) == 1, 2.0)
        counter.run(False)
        assert wait_until(lambda: not counter.listening and readers() <= before, 2.0)
        time.sleep(0.3)
        window = counter.drain()
        assert window.listened < 1.0
        counter.run(True)
        assert wait_until(lambda: counter.listening and len(readers() - before) == 1, 2.0)
    assert wait_until(lambda: readers() <= before, 2.0)
