"""pyroute2's synchronous socket sets itself up with run_until_complete() on a
loop of its own, which used to fail inside a running asyncio loop (an async
test, a Textual handler): AuditClient must work there too, and not leak."""

from __future__ import annotations

import asyncio
import os

from auditop.kernel.client import AuditClient


def test_a_client_made_inside_a_running_event_loop_works(kernel_lock):
    async def main():
        fds = len(os.listdir("/proc/self/fd"))
        for guarded in (True, False, True):
            with AuditClient(guarded=guarded) as client:
                status = client.get_status()
        return status, fds, len(os.listdir("/proc/self/fd"))

    status, before, after = asyncio.run(main())
    assert status.backlog_limit is not None
    assert after <= before  # pyroute2's helper-thread loop is closed with the client
