"""Findings about the settings drifting underneath auditop and about
auditd's own state report (its plugin queue, its logging). Pure; findings.py
runs them with its other rules.

    setting-changed           warning; critical while a changed failure or enabled is 2 now
    plugin-queue-filling      warning: depth above half of the queue
    plugin-queue-overflow     warning: auditd found the queue full since it started
    auditd-logging-suspended  critical
"""

from __future__ import annotations

import time

from auditop.core.drift import (DEMO_ACTOR, KEEP_SECONDS, SettingChange, actor_details,
                                actor_text, current, now_critical)
from auditop.core.finding import Finding
from auditop.core.model import (FAILURE_MODES, AuditdConfig, AuditdLogReading, AuditdState,
                                AuditStatus)

DEFAULT_LOG = "/var/log/audit/audit.log"
_WHAT_IT_DOES = {
    "enabled": "whether the kernel audits at all (2: on and locked until reboot)",
    "failure": "what the kernel does when it must lose a record (2: panic the machine)",
    "backlog_limit": "how many records the kernel queues for auditd",
    "rate_limit": "how many records per second the kernel accepts (0: no limit)",
    "backlog_wait_time": "how long a process waits for room in a full backlog",
}


def _clock(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


# ------------------------------------------------------------ setting-changed

def setting_changed(changes: tuple[SettingChange, ...], log: AuditdLogReading | None,
                    status: AuditStatus | None) -> Finding | None:
    """The changes are history; what each setting is now, and the severity,
    follow the newest status (a failure 1 -> 2 -> 0 -> 1 is no panic risk)."""
    if not changes:
        return None
    newest = changes[-1]
    latest = {c.field: c for c in changes}  # each field's newest change, in order
    now = {field: current(change, status) for field, change in latest.items()}
    if len(changes) == 1:
        by = f" by {actor_text(newest.by)}" if newest.by else ""
        later = f", now {now[newest.field]}" if now[newest.field] != newest.new else ""
        title = (f"{newest.field} changed underneath auditop: {newest.old} -> {newest.new}"
                 f"{by}{later}")
    else:
        title = (f"{len(changes)} audit setting changes underneath auditop: now "
                 + ", ".join(f"{field} {value}" for field, value in now.items()))
    lines = [_one_change(change, log, status) for change in changes]
    critical = now_critical(changes, status)
    dangers = []
    if "failure" in critical:
        dangers.append("failure is 2 now: the first record the kernel loses panics the "
                       "machine.")
    if "enabled" in critical:
        dangers.append("audit is locked now (enabled 2): no setting or rule can be changed "
                       "until reboot.")
    detail = (" ".join(lines) + " " + _now_text(now) + " " + _who_made(changes)
              + " A change made with auditctl or by reloading the rules (augenrules --load, "
              "the -e, -f, -b, -r and --backlog_wait_time lines in /etc/audit/rules.d/) lasts "
              "until reboot or the next reload. "
              + " ".join(dangers)
              + f" (Shown for {KEEP_SECONDS / 60:.0f} minutes after the change.)")
    path = log.path if log is not None else None
    remedy = "ausearch -m CONFIG_CHANGE -i -ts recent" + (
        f" -if {path}" if path and path != DEFAULT_LOG else "")
    return Finding("setting-changed", "critical" if critical else "warning", title,
                   " ".join(detail.split()), remedy)


def _now_text(now: dict[str, int]) -> str:
    """"Now: failure 1 (printk), backlog_limit 128." from the newest status."""
    def said(field: str, value: int) -> str:
        name = FAILURE_MODES.get(value) if field == "failure" else None
        return f"{field} {value}" + (f" ({name})" if name else "")
    return "Now: " + ", ".join(said(f, v) for f, v in now.items()) + "."


def _who_made(changes: tuple[SettingChange, ...]) -> str:
    demo = [c for c in changes if c.by is not None and c.by.comm == DEMO_ACTOR]
    if len(demo) == len(changes):  # the demo's keys or tour, on its simulated machine
        return ("The demo made " + ("this change" if len(changes) == 1 else "these changes")
                + " on its simulated machine, as someone else would on a real one; "
                "auditop did not.")
    return "auditop did not make " + ("this change." if len(changes) == 1 else
                                      "these changes.")


def _one_change(change: SettingChange, log: AuditdLogReading | None,
                status: AuditStatus | None) -> str:
    what = _WHAT_IT_DOES.get(change.field, "")
    before, seen = _clock(change.after), _clock(change.time)
    when = f"at {seen}" if before == seen else f"between {before} and {seen}"
    said = f"{change.field} ({what}) went from {change.old} to {change.new} {when}"
    if change.by is not None:
        record = change.by
        whose = "the simulated auditd's log" if record.comm == DEMO_ACTOR else "auditd's log"
        return (f"{said}, set by {actor_details(record)}, according to {whose} "
                f"(CONFIG_CHANGE at {_clock(record.time)}, serial {record.serial}).")
    return f"{said}; who did it is unknown: {_why_unknown(change, log, status)}."


def _why_unknown(change: SettingChange, log: AuditdLogReading | None,
                 status: AuditStatus | None) -> str:
    if change.field == "enabled" and change.old == 0 or (
            status is not None and status.enabled == 0):
        return "the kernel logs no CONFIG_CHANGE record while audit is off (enabled 0)"
    if log is None:
        return "auditd's log is not followed (no auditd known)"
    if log.unavailable:
        return log.unavailable
    return (f"no CONFIG_CHANGE record for it in auditd's log {log.path} yet (the record "
            "itself can be lost, above the rate limit or with the backlog full)")


# ------------------------------------------------------- auditd's state report

def _age(state: AuditdState, now: float) -> str:
    return f"auditd's state report of {_clock(state.mtime)}, {max(now - state.mtime, 0):.0f} s old"


def queue_size(state: AuditdState | None, config: AuditdConfig | None) -> int | None:
    """The plugin queue's size: the report's, else auditd.conf's q_depth."""
    if state is not None and state.plugin_queue_size:
        return state.plugin_queue_size
    return config.q_depth if config is not None else None


def _plugins(config: AuditdConfig | None) -> str:
    names = ", ".join(config.active_plugins) if config is not None else ""
    return names or "its plugins"


def plugin_queue_filling(state: AuditdState | None, config: AuditdConfig | None,
                         now: float) -> Finding | None:
    depth = state.plugin_queue_depth if state is not None else None
    size = queue_size(state, config)
    if depth is None or not size or depth <= size / 2:
        return None
    action = (config.overflow_action if config is not None else None) or "syslog"
    most = state.plugin_queue_max_depth
    return Finding(
        "plugin-queue-filling", "warning", "auditd's plugin queue is filling",
        f"auditd's queue to {_plugins(config)} holds {depth} of {size} events "
        f"({100 * depth / size:.0f}%)"
        + (f", at most {most} so far" if most is not None else "")
        + f" ({_age(state, now)}). The plugins read slower than records arrive; when the "
        f"queue is full auditd does what overflow_action says ({action}): drop the event "
        "for the plugins, or suspend them, or stop the machine. Check what the plugins "
        "send to (a remote log server, a SIEM) and raise q_depth in auditd.conf.",
    )


def plugin_queue_overflow(state: AuditdState | None, config: AuditdConfig | None,
                          now: float) -> Finding | None:
    if state is None or not state.plugin_queue_overflow:
        return None
    action = (config.overflow_action if config is not None else None) or "syslog"
    size = queue_size(state, config)
    return Finding(
        "plugin-queue-overflow", "warning", "auditd's plugin queue has overflowed",
        f"auditd found its queue to {_plugins(config)} full (size {size}) at least once "
        f"since it started ({_age(state, now)}), and did what overflow_action says "
        f"({action}): with syslog or ignore the plugins missed those events; with "
        "suspend they get nothing more until auditd restarts. The audit log on disk is not "
        "affected. auditd keeps this flag until it restarts. Raise q_depth in auditd.conf "
        "(and restart auditd) if the plugins must see every event.",
    )


def auditd_logging_suspended(state: AuditdState | None, now: float) -> Finding | None:
    if state is None or not state.logging_suspended:
        return None
    causes = []
    if state.disk_error:
        causes.append("a disk error was detected")
    if state.admin_space_action_performed:
        causes.append(f"free space fell below admin_space_left ({state.admin_space_left})")
    elif state.space_action_performed:
        causes.append(f"free space fell below space_left ({state.space_left})")
    if state.free_space:
        causes.append(f"{state.free_space} free on the log's partition")
    why = f" ({'; '.join(causes)})" if causes else ""
    return Finding(
        "auditd-logging-suspended", "critical", "auditd has suspended logging",
        f"auditd writes no more records to its log{why}, {_age(state, now)}. It does so "
        "when disk_full_action, disk_error_action or admin_space_left_action is SUSPEND. "
        "Records still leave the kernel, so nothing shows in the backlog, but the audit "
        "trail has a hole. Free space on the log's partition, then tell auditd to resume "
        "(SIGUSR2, or `auditctl --signal resume` from auditd 3.1.1).",
        "kill -USR2 $(pidof auditd)",
    )


# ------------------------------------------------- the pipeline's third stage

def plugin_queue_parts(state: AuditdState | None, config: AuditdConfig | None,
                       now: float) -> list[tuple[str, str]]:
    """The plugin queue in words, as (text, level) items ("", "warning",
    "error"), shared by `status` and the TUI."""
    plugins = config.active_plugins if config is not None else ()
    if not plugins and (state is None or not state.plugins_active):
        if config is not None:
            return [("no plugins active (no plugin queue)", "")]
    if state is None:
        return [("no fresh state report", "")]
    size = queue_size(state, config)
    depth = state.plugin_queue_depth
    fill = (f" ({100 * depth / size:.0f}%)" if depth is not None and size else "")
    level = "warning" if depth is not None and size and depth > size / 2 else ""
    parts = [(f"queue {_n(depth)} / {_n(size)}{fill}", level),
             (f"max used {_n(state.plugin_queue_max_depth)}", "")]
    if state.plugin_queue_overflow:
        parts.append(("OVERFLOWED", "warning"))
    if state.logging_suspended:
        parts.append(("logging SUSPENDED", "error"))
    parts.append((f"report {max(now - state.mtime, 0):.0f} s old", ""))
    return parts


def change_text(change: SettingChange, when: bool = True,
                status: AuditStatus | None = None) -> str:
    """"backlog_limit 64 -> 100 at 12:00:01 by auditctl (pid 14356, auid
    unset)"; without `when`, the time only when nobody is named; ", now 200"
    when `status` (the newest) says it has changed again since (auditop's
    own change)."""
    by = f" by {actor_text(change.by)}" if change.by is not None else ""
    at = f" at {_clock(change.time)}" if when or not by else ""
    value = current(change, status)
    later = f", now {value}" if value != change.new else ""
    return (f"{change.field} changed {change.old} -> {change.new}{at}"
            f"{by or ', not by auditop'}{later}")


def _n(value: object) -> str:
    return "?" if value is None else str(value)
