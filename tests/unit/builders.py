"""Builders for Samples: a healthy system by default, change only what a test is about."""

from __future__ import annotations

from dataclasses import replace

from auditop.core.history import History, Window
from auditop.core.model import (
    AuditdConfig,
    AuditdProcess,
    AuditStatus,
    NetlinkSocketRow,
    Sample,
    SystemInfo,
)

EPOCH = 1_700_000_000.0  # wall clock = EPOCH + mono
AUDITD_PID = 812
SOCKET_INODE = 40_000

HEALTHY_STATUS = AuditStatus(
    enabled=1, failure=1, pid=AUDITD_PID, rate_limit=0, backlog_limit=8192, lost=0, backlog=0,
    feature_bitmap=0x7F, backlog_wait_time=60000, backlog_wait_time_actual=0,
)
HEALTHY_CONFIG = AuditdConfig(
    path="/etc/audit/auditd.conf", flush="incremental_async", freq=50, log_format="raw",
    q_depth=2000, overflow_action="syslog", priority_boost=4,
)
HEALTHY_SYSTEM = SystemInfo(
    rmem_default=8 * 1024 * 1024,
    rmem_max=8 * 1024 * 1024,
    auditd=AuditdProcess(pid=AUDITD_PID, name="auditd", state="S", start_time=EPOCH - 3600),
    auditd_socket=NetlinkSocketRow(
        portid=AUDITD_PID, groups=0, rmem=0, drops=0, inode=SOCKET_INODE),
    config=HEALTHY_CONFIG,
)

_ANSWERED = object()


def make_sample(
    mono: float = 0.0,
    *,
    status: AuditStatus | None | object = _ANSWERED,
    error: str | None = None,
    system: SystemInfo = HEALTHY_SYSTEM,
    drops: int | None = None,
    inode: int = SOCKET_INODE,
    **status_fields: int | None,
) -> Sample:
    """A sample at `mono`. `status=None` for no answer; keyword arguments
    change fields of the healthy status (`lost=5`); `drops` sets auditd's socket."""
    if status is _ANSWERED:
        status = replace(HEALTHY_STATUS, **status_fields)
    if drops is not None:
        socket = NetlinkSocketRow(portid=AUDITD_PID, groups=0, rmem=0, drops=drops, inode=inode)
        system = replace(system, auditd_socket=socket)
    return Sample(time=EPOCH + mono, mono=mono, status=status, system=system, error=error)


def silent_sample(mono: float, error: str = "no answer for 2.0 s") -> Sample:
    return make_sample(mono, status=None, error=error)


def feed(history: History, samples: list[Sample]) -> list[Window]:
    """Add every sample; return the windows that closed, oldest first."""
    return [w for w in map(history.add, samples) if w is not None]


def ticks(start: float, stop: float, step: float = 0.1) -> list[float]:
    """Monotonic times start, start+step, ... below stop, built by repeated
    addition like a real clock would drift."""
    times, t = [], start
    while t < stop - 1e-9:
        times.append(t)
        t += step
    return times
