"""Cheap reads of /proc and auditd's files, assembled into a SystemInfo.

Pure stdlib: importing this must not pull in pyroute2 or Textual.
Safe at 10 Hz: what rarely changes is cached (auditd.conf by mtime, the
command line and HZ forever, MemTotal for a few seconds); the rest is a few
small /proc reads and, when the caller passes one, a sock_diag dump (about
50 us, in place of reading /proc/net/netlink). The sock_diag reader is
passed in, so this package imports no pyroute2.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from auditop.core.model import NetlinkSocketRow, SystemInfo
from auditop.probes._files import read_text
from auditop.probes.auditd_conf import read_auditd_config
from auditop.probes.auditd_state import fresh_state
from auditop.probes.boot import kernel_hz_reading, read_boot_params
from auditop.probes.meminfo import mem_total
from auditop.probes.netlink import (DiagSocket, parse_netlink, pick_audit_sockets,
                                   rows_from_sock_diag)
from auditop.probes.process import auditd_process
from auditop.probes.sysctl import read_rmem

MEMINFO_MAX_AGE = 5.0  # seconds; MemTotal moves only with hotplug or ballooning

_meminfo_cache: dict[str, tuple[float, int | None]] = {}


def read_system(
    pid: int | None,
    *,
    proc_root: str = "/proc",
    auditd_conf: str = "/etc/audit/auditd.conf",
    read_at: float | None = None,
    sock_diag: Callable[[], Iterable[DiagSocket]] | None = None,
    kernel_log_error: str | None = None,
    state_paths: tuple[str, ...] | None = None,
) -> SystemInfo:
    """Everything auditop reads outside the audit netlink socket, for auditd
    `pid`, stamped `read_at` (time.monotonic(), by default now).

    `sock_diag` (probes/sockdiag.AuditSocketReader) gives each audit
    socket's real buffer; when it is None or fails (an OSError, whose text
    becomes `sock_diag_error`) the sockets come from /proc/net/netlink,
    without it. `kernel_log_error` is passed through: the kernel log is
    followed by the caller, on every poll. `auditd_conf`: the file the
    running auditd reads (probes/auditd_log.auditd_conf_path); `state_paths`:
    where to look for its state report (tests)."""
    rmem_default, rmem_max = read_rmem(proc_root)
    rows, diag_error = _audit_rows(os.path.join(proc_root, "net", "netlink"), sock_diag)
    auditd_socket, readers = pick_audit_sockets(rows, pid)
    auditd = auditd_process(pid, proc_root)
    config = read_auditd_config(auditd_conf)
    hz, hz_source = kernel_hz_reading(proc_root)
    return SystemInfo(
        rmem_default=rmem_default,
        rmem_max=rmem_max,
        auditd=auditd,
        auditd_socket=auditd_socket,
        multicast_readers=readers,
        config=config,
        auditd_state=fresh_state(auditd, config, paths=state_paths),
        boot=read_boot_params(os.path.join(proc_root, "cmdline")),
        mem_total=_recent_mem_total(os.path.join(proc_root, "meminfo")),
        read_at=time.monotonic() if read_at is None else read_at,
        hz=hz,
        hz_source=hz_source,
        sock_diag_error=diag_error,
        kernel_log_error=kernel_log_error,
    )


def _audit_rows(proc_netlink: str, sock_diag: Callable[[], Iterable[DiagSocket]] | None
                ) -> tuple[list[NetlinkSocketRow], str | None]:
    """Every NETLINK_AUDIT socket, and why their buffers are unknown (if so)."""
    error = None
    if sock_diag is not None:
        try:
            sockets = tuple(sock_diag())
        except OSError as exc:  # SockDiagError and kin: one line each
            error = str(exc)
        else:
            proc = () if all(s.drops is not None for s in sockets) else _proc_rows(proc_netlink)
            return rows_from_sock_diag(sockets, proc), None
    return _proc_rows(proc_netlink), error


def _proc_rows(path: str) -> list[NetlinkSocketRow]:
    text = read_text(path)
    return [] if text is None else parse_netlink(text)


def _recent_mem_total(path: str) -> int | None:
    now = time.monotonic()
    cached = _meminfo_cache.get(path)
    if cached is not None and now - cached[0] < MEMINFO_MAX_AGE:
        return cached[1]
    value = mem_total(path)
    _meminfo_cache[path] = (now, value)
    return value
