"""Builders for Samples: a healthy system by default, change only what a test is about."""

from __future__ import annotations

from dataclasses import replace

from auditop.core.history import History, Window
from auditop.core.model import AuditStatus, NetlinkSocketRow, Sample, SystemInfo
from auditop.sources.scripted import (AUDITD_PID, EPOCH, HEALTHY_STATUS, SOCKET_INODE,
                                      HEALTHY_SYSTEM as SCRIPTED_SYSTEM)

# The scripted source's healthy system, without active plugins: a plugin adds
# findings of its own, which the unit tests switch on where they are the point.
HEALTHY_CONFIG = replace(SCRIPTED_SYSTEM.config, active_plugins=())
HEALTHY_SYSTEM = replace(SCRIPTED_SYSTEM, config=HEALTHY_CONFIG, mem_total=None)

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
        rcvbuf = system.auditd_socket.rcvbuf if system.auditd_socket else None
        socket = NetlinkSocketRow(portid=AUDITD_PID, groups=0, rmem=0, drops=drops, inode=inode,
                                  rcvbuf=rcvbuf)
        system = replace(system, auditd_socket=socket)
    return Sample(time=EPOCH + mono, mono=mono, status=status, system=system, error=error)


def with_buffers(rmem_default: int | None, rcvbuf: int | None, *,
                 system: SystemInfo = HEALTHY_SYSTEM, **changes) -> SystemInfo:
    """The system with net.core.rmem_default and auditd's real socket buffer
    (None: sock_diag could not tell) set; other SystemInfo fields by keyword."""
    socket = replace(system.auditd_socket, rcvbuf=rcvbuf)
    return replace(system, rmem_default=rmem_default, auditd_socket=socket, **changes)


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
