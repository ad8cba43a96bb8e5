"""The real kernel and /proc."""

from __future__ import annotations

import time

from auditop.core.model import Sample
from auditop.kernel.client import DEFAULT_TIMEOUT, AuditClient
from auditop.kernel.errors import (AuditError, NoAuditSupport, NotInitialNamespace,
                                   NotPrivileged)
from auditop.kernel.results import SetResult
from auditop.probes import read_system

# Errors no retry will cure: the caller must show them and stop.
FATAL = (NotPrivileged, NoAuditSupport, NotInitialNamespace)


class LiveSource:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        # Polls run on the sampler's own thread, whose consumer watches for a
        # poll that takes too long: no guard thread needed (see client.py).
        self._poller = AuditClient(timeout, guarded=False)
        self._controller: AuditClient | None = None
        self._timeout = timeout
        self._last_pid: int | None = None

    def poll(self) -> Sample:
        start = time.monotonic()
        try:
            status, error = self._poller.get_status(), None
            self._last_pid = status.pid
        except FATAL:
            raise
        except AuditError as exc:
            status, error = None, str(exc)
        end = time.monotonic()
        system = read_system(self._last_pid)
        return Sample(time=time.time(), mono=end, status=status, system=system,
                      error=error, poll_seconds=end - start)

    def set(self, field: str, value: int) -> SetResult:
        # Changes come from the UI's workers: a guarded client answers within
        # its timeout even while the kernel holds the poller asleep.
        if self._controller is None:
            self._controller = AuditClient(self._timeout, guarded=True)
        return self._controller.set(field, value)

    def close(self) -> None:
        self._poller.close()
        if self._controller is not None:
            self._controller.close()
