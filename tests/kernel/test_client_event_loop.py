"""The client on the real kernel: it works inside a running asyncio loop
(an async test, a Textual handler), closes every descriptor it opened, and
its sender processes end when it is closed."""

from __future__ import annotations

import asyncio
import os
import time


from auditop.kernel.client import AuditClient


def test_a_client_made_inside_a_running_event_loop_works_and_leaks_nothing(kernel_lock):
    async def main():
        fds = len(os.listdir("/proc/self/fd"))
        children = []
        for _ in range(3):
            with AuditClient() as client:
                status = client.get_status()
                children += [s.process for s in client._pool._senders]
        time.sleep(0.2)
        return status, fds, len(os.listdir("/proc/self/fd")), children

    status, before, after, children = asyncio.run(main())
    assert status.backlog_limit is not None
    assert after <= before
    deadline = time.monotonic() + 2
    while any(child.poll() is None for child in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children and all(child.returncode == 0 for child in children)
