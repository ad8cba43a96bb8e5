"""The public JSON shapes of `status --json` and `record` (docs/json.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from auditop.core.drift import SettingChange
from auditop.core.findings import Finding
from auditop.core.history import Window
from auditop.core.memory import backlog_memory, queues_capped
from auditop.core.model import STATUS_FIELDS, AuditdState, AuditStatus, SystemInfo

# Every line and object carries it from version 2 on; lines without one are
# version 1 (before `held_*` and the per-counter spans).
SCHEMA_VERSION = 2


def status_object(window: Window, findings: list[Finding] | tuple[Finding, ...],
                  changes: tuple[SettingChange, ...] = ()) -> dict[str, Any]:
    """`status --json`: the newest answered status and the system info of
    the sampled window (the text output shows the same)."""
    line = _status_line(window.end, window.status, window.system, findings, window.error,
                        window, changes)
    line["window"] = _window_fields(window)
    return line


def _status_line(time: float, status: AuditStatus | None, system: SystemInfo | None,
                 findings, error: str | None, window: Window,
                 changes: tuple[SettingChange, ...]) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "time": time,
        "status": {name: getattr(status, name) if status else None
                   for name in STATUS_FIELDS},
        "system": system_object(system, status.backlog_limit if status else None, now=time),
        "findings": [finding.as_dict() for finding in findings],
        "error": error,
        "held_senders": window.held_senders,
        "held_for": round(window.held_for, 3),
        "setting_changes": [change_object(change) for change in changes],
        "producers": producers_object(window),
    }


def producers_object(window: Window) -> dict[str, Any] | None:
    """Who produced the window's records (issue 16, docs/json.md): null when
    nobody counted them (not asked, no CAP_AUDIT_READ, a source without)."""
    producers = window.producers
    return producers.as_json() if producers is not None else None


def change_object(change: SettingChange) -> dict[str, Any]:
    """A setting changed underneath auditop, and who did it (`by`: null when
    auditd's log does not say)."""
    return {"field": change.field, "old": change.old, "new": change.new,
            "time": change.time, "after": change.after,
            "by": asdict(change.by) if change.by is not None else None}


def state_object(state: AuditdState | None, now: float | None) -> dict[str, Any] | None:
    """auditd's state report, with how old the file was at `now` (seconds)."""
    if state is None:
        return None
    fields = {name: getattr(state, name) for name in state.__dataclass_fields__}
    fields["extra"] = dict(state.extra)
    fields["damaged"] = list(state.damaged)
    fields["age"] = None if now is None else round(max(now - state.mtime, 0.0), 3)
    return fields


def system_object(system: SystemInfo | None, backlog_limit: int | None,
                  now: float | None = None) -> dict[str, Any] | None:
    if system is None:
        return None
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
            "netlink_rcvbuf": sock.rcvbuf if sock else None,
        }
    memory = backlog_memory(backlog_limit)
    queues = queues_capped(system.boot.audit)
    return {
        "rmem_default": system.rmem_default,
        "rmem_max": system.rmem_max,
        "auditd": auditd,
        "multicast_readers": [
            {"portid": r.portid, "rmem": r.rmem, "drops": r.drops, "rcvbuf": r.rcvbuf}
            for r in system.multicast_readers
        ],
        "sock_diag_error": system.sock_diag_error,
        "kernel_log_error": system.kernel_log_error,
        "hz": system.hz,
        "hz_source": system.hz_source,
        "auditd_conf": asdict(system.config) if system.config else None,
        "boot": asdict(system.boot),
        "mem_total": system.mem_total,
        "backlog_memory_estimate": (
            {"typical": memory[0], "worst": memory[1], "queues": queues,
             "typical_all_queues": queues * memory[0], "worst_all_queues": queues * memory[1]}
            if memory else None),
        "auditd_state": state_object(system.auditd_state, now),
        "auditd_log": ({"path": system.auditd_log.path,
                        "unavailable": system.auditd_log.unavailable}
                       if system.auditd_log is not None else None),
    }


def window_object(window: Window, findings,
                  changes: tuple[SettingChange, ...] = ()) -> dict[str, Any]:
    """One `record` line: the newest status the kernel gave in the window
    (fields null when it never answered), the newest system state, the
    window's summary, and the settings changed underneath auditop lately."""
    line = _status_line(window.end, window.status, window.system, findings,
                        window.error, window, changes)
    line["window"] = _window_fields(window)
    return line


def _window_fields(window: Window) -> dict[str, Any]:
    return {
        "seconds": round(window.seconds, 6),
        "samples": window.samples,
        "failures": window.failures,
        "backlog_peak": window.backlog_peak,
        "lost": window.lost,
        "lost_per_s": window.lost_per_s,
        "lost_seconds": round(window.lost_seconds, 6),
        "netlink_drops_per_s": window.netlink_drops_per_s,
        "drops_seconds": round(window.drops_seconds, 6),
        "wait_per_s": window.wait_per_s,
        "wait_seconds": round(window.wait_seconds, 6),
        "loss_causes": dict(window.loss_causes),
        "loss_suppressed": window.loss_suppressed,
        "records_printed": window.records_printed,
    }
