"""The public JSON shapes of `status --json` and `record` (docs/json.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from auditop.core.findings import Finding
from auditop.core.history import Window
from auditop.core.memory import backlog_memory
from auditop.core.model import STATUS_FIELDS, AuditStatus, Sample, SystemInfo

SCHEMA_VERSION = 1


def status_object(sample: Sample, findings: list[Finding]) -> dict[str, Any]:
    return _status_line(sample.time, sample.status, sample.system, findings, sample.error)


def _status_line(time: float, status: AuditStatus | None, system: SystemInfo,
                 findings: list[Finding], error: str | None) -> dict[str, Any]:
    return {
        "time": time,
        "status": {name: getattr(status, name) if status else None
                   for name in STATUS_FIELDS},
        "system": system_object(system, status.backlog_limit if status else None),
        "findings": [finding.as_dict() for finding in findings],
        "error": error,
    }


def system_object(system: SystemInfo, backlog_limit: int | None) -> dict[str, Any]:
    auditd = None
    if system.auditd is not None or system.auditd_socket is not None:
        process, sock = system.auditd, system.auditd_socket
        auditd = {
            "pid": process.pid if process else sock.portid,
            "name": process.name if process else None,
            "state": process.state if process else None,
            "start_time": process.start_time if process else None,
            "netlink_rmem": sock.rmem if sock else None,
            "netlink_drops": sock.drops if sock else None,
        }
    memory = backlog_memory(backlog_limit)
    return {
        "rmem_default": system.rmem_default,
        "rmem_max": system.rmem_max,
        "auditd": auditd,
        "multicast_readers": [
            {"portid": r.portid, "rmem": r.rmem, "drops": r.drops}
            for r in system.multicast_readers
        ],
        "auditd_conf": asdict(system.config) if system.config else None,
        "boot": asdict(system.boot),
        "mem_total": system.mem_total,
        "backlog_memory_estimate": (
            {"typical": memory[0], "worst": memory[1]} if memory else None),
    }


def window_object(window: Window, findings: list[Finding]) -> dict[str, Any]:
    """One `record` line: the newest status the kernel gave in the window
    (fields null when it never answered), the newest system state, and the
    window's summary."""
    line = _status_line(window.end, window.status, window.last.system, findings,
                        window.error)
    line["window"] = {
        "seconds": round(window.seconds, 6),
        "samples": window.samples,
        "failures": window.failures,
        "backlog_peak": window.backlog_peak,
        "lost": window.lost,
        "lost_per_s": window.lost_per_s,
        "netlink_drops_per_s": window.netlink_drops_per_s,
        "wait_per_s": window.wait_per_s,
    }
    return line
