"""Cheap reads of /proc and auditd's files, assembled into a SystemInfo.

Pure stdlib: importing this must not pull in pyroute2 or Textual.
Safe at 10 Hz: what rarely changes is cached (auditd.conf by mtime, the
command line forever, MemTotal for a few seconds); the rest is a few small
/proc reads.
"""

from __future__ import annotations

import os
import time

from auditop.core.model import SystemInfo
from auditop.probes.auditd_conf import read_auditd_config
from auditop.probes.boot import read_boot_params
from auditop.probes.meminfo import mem_total
from auditop.probes.netlink import audit_sockets
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
) -> SystemInfo:
    """Everything auditop reads outside the audit netlink socket, for auditd
    `pid`, stamped `read_at` (time.monotonic(), by default now)."""
    rmem_default, rmem_max = read_rmem(proc_root)
    auditd_socket, readers = audit_sockets(pid, os.path.join(proc_root, "net", "netlink"))
    return SystemInfo(
        rmem_default=rmem_default,
        rmem_max=rmem_max,
        auditd=auditd_process(pid, proc_root),
        auditd_socket=auditd_socket,
        multicast_readers=readers,
        config=read_auditd_config(auditd_conf),
        boot=read_boot_params(os.path.join(proc_root, "cmdline")),
        mem_total=_recent_mem_total(os.path.join(proc_root, "meminfo")),
        read_at=time.monotonic() if read_at is None else read_at,
    )


def _recent_mem_total(path: str) -> int | None:
    now = time.monotonic()
    cached = _meminfo_cache.get(path)
    if cached is not None and now - cached[0] < MEMINFO_MAX_AGE:
        return cached[1]
    value = mem_total(path)
    _meminfo_cache[path] = (now, value)
    return value
