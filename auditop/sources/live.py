"""The real kernel and /proc."""

from __future__ import annotations

import time

from auditop.core.model import Sample, SystemInfo
from auditop.kernel.client import DEFAULT_TIMEOUT, AuditClient
from auditop.kernel.errors import (AuditError, NoAuditSupport, NotInitialNamespace,
                                   NotPrivileged)
from auditop.kernel.results import SetResult
from auditop.probes import read_system

# Errors no retry will cure: the caller must show them and stop.
FATAL = (NotPrivileged, NoAuditSupport, NotInitialNamespace)
# The backlog can fill and drain within 150 ms, so the kernel is asked at the
# full sampling rate; /proc and the sysctls move slower and cost 3x as much
# to read cold, so they are read at most this often (and when auditd changes).
SYSTEM_PERIOD = 0.5


class LiveSource:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        # Polls run on the sampler's own thread, whose consumer watches for a
        # poll that takes too long: no guard thread needed (see client.py).
        self._poller = AuditClient(timeout, guarded=False)
        self._controller: AuditClient | None = None
        self._timeout = timeout
        self._last_pid: int | None = None
        self._system: SystemInfo | None = None
        self._system_read_at = float("-inf")
        self._system_pid: int | None = None  # the auditd pid it was read for

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
        return Sample(time=time.time(), mono=end, status=status,
                      system=self._read_system(end), error=error,
                      poll_seconds=end - start)

    def _read_system(self, now: float) -> SystemInfo:
        if (self._system is None or now - self._system_read_at >= SYSTEM_PERIOD
                or self._system_pid != self._last_pid):
            self._system = read_system(self._last_pid)
            self._system_read_at, self._system_pid = now, self._last_pid
        return self._system

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
