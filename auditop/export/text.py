"""`auditop status`: a readable summary for a terminal or a ticket."""

from __future__ import annotations

import textwrap

from auditop.core.drift import SettingChange
from auditop.core.findings import Finding
from auditop.core.findings.auditd import plugin_queue_parts
from auditop.core.findings.settings import change_text
from auditop.core.history import Window
from auditop.core.memory import describe_backlog_memory, queues_capped
from auditop.core.losses import causes_text
from auditop.core.model import FAILURE_MODES, AuditStatus, SystemInfo
from auditop.core.text import (UNKNOWN, bytes_text, count_text, jiffies_text, rate_text,
                               seconds_text, share_text, stamp_text, wait_rate_text)

ENABLED_MODES = {0: "disabled", 1: "enabled", 2: "enabled, locked"}


def _hz_source(source: str | None) -> str:
    """"; HZ from /boot/config-6.1.0", "; HZ measured from /proc/timer_list"."""
    if not source:
        return ""
    return f"; HZ {source}" if source.startswith("measured") else f"; HZ from {source}"


def status_lines(window: Window, changes: tuple[SettingChange, ...] = (),
                 state_request: str | None = None) -> list[tuple[str, str]]:
    """(label, text) rows shared by the text summary. `state_request`: what
    asking auditd for a state report did (--auditd-state)."""
    status: AuditStatus = window.status
    system: SystemInfo = window.system or SystemInfo()
    rows = [
        ("audit", f"{count_text(status.enabled)} "
                  f"({ENABLED_MODES.get(status.enabled, UNKNOWN)})"
                  f"   failure {count_text(status.failure)} "
                  f"({FAILURE_MODES.get(status.failure, UNKNOWN)})"
                  f"   rate_limit {count_text(status.rate_limit)}"),
    ]
    auditd = system.auditd
    if status.pid:
        state = f"state {auditd.state}{' (STOPPED)' if auditd.stopped else ''}" \
            if auditd else "process not visible"
        rows.append(("auditd", f"pid {status.pid}, {state}"))
    else:
        rows.append(("auditd", "no daemon registered (pid 0)"))
    limit = status.backlog_limit
    share = share_text(window.backlog_peak, limit)
    use = f" ({share} at peak)" if share else ""
    rows.append(("backlog", f"{count_text(status.backlog)} now, peak "
                            f"{count_text(window.backlog_peak)} / limit "
                            f"{'unlimited' if limit == 0 else count_text(limit)}{use}"
                            f" over {seconds_text(window.seconds)}"))
    causes = (f"; lost: {causes_text(window.loss_causes)} (kernel log, "
              f"{sum(n for _, n in window.loss_causes)} messages, not records)"
              if window.loss_causes else "")
    printed = (f"; {window.records_printed} records printed to the kernel log instead of "
               "reaching auditd (not counted in lost)" if window.records_printed else "")
    rows.append(("lost", f"{count_text(status.lost)} total, {rate_text(window.lost_per_s)}"
                         f" over {seconds_text(window.lost_seconds)}{causes}{printed}"))
    hz = system.hz
    rows.append(("waiting", f"backlog_wait_time {jiffies_text(status.backlog_wait_time, hz)}"
                            f", waited {jiffies_text(status.backlog_wait_time_actual, hz)} "
                            f"in all ({wait_rate_text(window.wait_per_s, hz)})"
                            f"{_hz_source(system.hz_source)}"))
    rmem = " ".join(
        f"{name} {bytes_text(value)}"
        for name, value in (("rmem_default", system.rmem_default),
                            ("rmem_max", system.rmem_max)))
    sock = system.auditd_socket
    if sock is not None:
        sock_text = (f"   auditd socket buffer {bytes_text(sock.rcvbuf)}, queue "
                     f"{bytes_text(sock.rmem)}, drops {sock.drops} "
                     f"({rate_text(window.netlink_drops_per_s)})")
    else:
        sock_text = ""
    rows.append(("netlink", rmem + sock_text))
    if sock is not None and sock.rcvbuf is None and system.sock_diag_error:
        rows.append(("", f"auditd's real buffer unknown: {system.sock_diag_error}"))
    if system.kernel_log_error:
        rows.append(("kernel log", system.kernel_log_error))
    if system.multicast_readers:
        rows.append(("readers", ", ".join(
            f"portid {r.portid} queue {bytes_text(r.rmem)} drops {r.drops}"
            for r in system.multicast_readers)))
    mem = f" (MemTotal {bytes_text(system.mem_total)})" if system.mem_total else ""
    rows.append(("memory", describe_backlog_memory(limit, queues_capped(system.boot.audit))
                 + mem))
    conf = system.config
    if conf is not None:
        plugins = ", ".join(conf.active_plugins) or "none"
        rows.append(("auditd.conf", f"flush {conf.flush} freq {conf.freq} "
                                    f"log_format {conf.log_format} q_depth "
                                    f"{conf.q_depth} overflow_action "
                                    f"{conf.overflow_action}; plugins: {plugins}"))
    if status.pid:
        plugins = ", ".join(text for text, _ in
                            plugin_queue_parts(system.auditd_state, conf, window.end))
        if system.auditd_state is None and state_request is None:
            plugins += " (--auditd-state asks auditd for one)"
        rows.append(("plugins", plugins))
    if state_request is not None:
        rows.append(("report", state_request))
    log = system.auditd_log
    if log is not None and (log.unavailable or log.path is None):
        rows.append(("auditd log", f"{log.unavailable}: who changes a setting is unknown"))
    for change in changes:
        rows.append(("setting", change_text(change)))
    boot = system.boot
    if boot.audit is not None or boot.audit_backlog_limit is not None:
        rows.append(("boot", f"audit={boot.audit} "
                             f"audit_backlog_limit={boot.audit_backlog_limit}"))
    if window.held_senders:
        rows.append(("throttled", f"the kernel held auditop's senders up to "
                                  f"{seconds_text(window.held_for)} (backlog over its limit); "
                                  "the values above are real"))
    return rows


def status_text(window: Window, findings: list[Finding], width: int = 80,
                changes: tuple[SettingChange, ...] = (), state_request: str | None = None
                ) -> str:
    out = [f"auditop status  {stamp_text(window.end)}", ""]
    out += [f"{label:<12}{text}" for label, text in status_lines(window, changes,
                                                                    state_request)]
    out += ["", f"findings: {len(findings) or 'none'}"]
    for finding in findings:
        out.append(f"  {finding.severity.upper():<9}{finding.id}: {finding.title}")
        out += textwrap.wrap(finding.detail, width - 4, initial_indent="    ",
                             subsequent_indent="    ")
        if finding.remedy:
            out += ["    remedy: " + line for line in finding.remedy.splitlines()]
    return "\n".join(out)
