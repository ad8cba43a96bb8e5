"""Rules about auditd: not running, dead or stopped, how it writes (flush,
log_format), its plugin queue (size, overflow action, filling, overflowed,
from auditd.conf and its state report) and its logging suspended."""

from __future__ import annotations

from auditop.core.findings.base import Facts, Found, Severity, rule
from auditop.core.model import AuditdConfig, AuditdState
from auditop.core.text import clock_text, count_text, seconds_text, share_text


@rule("auditd-not-running")
def auditd_not_running(f: Facts) -> Found | None:
    # enabled 2 is "on and locked": auditing is on there too.
    if f.status is None or f.status.enabled not in (1, 2):
        return None
    if f.status.pid == 0:
        return Found(
            "critical", "auditd is not running",
            "Auditing is on but no auditd is registered with the kernel (pid 0), so no audit "
            "log is being written. Records go to the kernel log instead, or, when the kernel "
            "was booted with audit=1, wait in the hold queue; once the backlog fills they are "
            "lost (\"kauditd hold queue overflow\").",
            "systemctl start auditd",
        )
    auditd = f.system.auditd if f.system else None
    if f.system is not None and (auditd is None or auditd.state in ("Z", "X")):
        # The kernel forgets a dead auditd only when it next fails to deliver
        # a record to it: on a quiet system that can take a while.
        return Found(
            "critical", "auditd has died",
            f"The kernel still names pid {f.status.pid} as its audit daemon, but no such "
            "process is alive. Records queue in the backlog until the kernel notices, and "
            "are lost once it is full.",
            "systemctl start auditd",
        )
    return None


@rule("auditd-stopped")
def auditd_stopped(f: Facts) -> Found | None:
    auditd = f.system.auditd if f.system else None
    if auditd is None or not auditd.stopped:
        return None
    panic = " (in failure mode 2 the machine panics)" if f.status and f.status.failure == 2 else ""
    return Found(
        "critical", "auditd is stopped",
        f"auditd (pid {auditd.pid}) is stopped (state {auditd.state}), for example by SIGSTOP, "
        "Ctrl-Z or a debugger. It reads nothing, so the backlog fills; then processes that "
        f"produce audit records wait and records are lost{panic}.",
        f"kill -CONT {auditd.pid}",
    )


@rule("flush-sync")
def flush_sync(f: Facts) -> Found | None:
    config = f.system.config if f.system else None
    flush = (config.flush or "").lower() if config else ""
    if flush not in ("data", "sync"):
        return None
    return Found(
        "warning", "auditd writes synchronously",
        f"{config.path} has flush = {flush}: auditd forces every record to disk before it "
        "reads the next one, so under load it reads the kernel slowly and the backlog grows. "
        "flush = incremental_async with freq = 50 flushes in the background every 50 records.",
    )


@rule("log-format-enriched")
def log_format_enriched(f: Facts) -> Found | None:
    config = f.system.config if f.system else None
    if config is None or (config.log_format or "").lower() != "enriched":
        return None
    return Found(
        "info", "auditd enriches every record",
        f"{config.path} has log_format = ENRICHED: auditd looks up user, group, syscall and "
        "address names for every record it writes (one report measured it at about half of "
        "auditd's CPU time). "
        "log_format = RAW writes the numbers and leaves the lookups to `ausearch -i`.",
    )


@rule("q-depth-small")
def q_depth_small(f: Facts) -> Found | None:
    config = f.system.config if f.system else None
    depth = config.q_depth if config else None
    if depth is None:
        return None
    limit = f.status.backlog_limit if f.status else None
    plugins = ", ".join(config.active_plugins)
    below_backlog = bool(plugins) and bool(limit) and depth < limit
    if depth >= f.limits.q_depth and not below_backlog:
        return None
    reason = (
        f"below {f.limits.q_depth}, where auditd itself warns"
        if depth < f.limits.q_depth else f"smaller than the kernel's backlog_limit {limit}"
    )
    return Found(
        "warning" if depth < f.limits.q_depth else "info",
        "auditd's plugin queue is small",
        f"{config.path} has q_depth = {depth}, {reason}. It is the queue between auditd and "
        f"its plugins ({plugins or 'none active'}): a burst the kernel holds can overflow it, "
        "and auditd then drops events for the plugins (\"queue to plugins is full - dropping "
        "event\") or does what overflow_action says.",
    )


_OVERFLOW_ACTIONS: dict[str, tuple[Severity, str]] = {
    "ignore": ("info", "events the plugin queue cannot take are dropped without a word"),
    "suspend": ("warning", "auditd stops sending events to its plugins until it is restarted"),
    "single": ("warning", "the system switches to single-user mode"),
    "halt": ("warning", "the system shuts down"),
}


@rule("overflow-action")
def overflow_action(f: Facts) -> Found | None:
    config = f.system.config if f.system else None
    action = (config.overflow_action or "").lower() if config else ""
    if action not in _OVERFLOW_ACTIONS:  # syslog (the default) logs and drops
        return None
    severity, effect = _OVERFLOW_ACTIONS[action]
    return Found(
        severity, f"Plugin queue overflow action is {action}",
        f"{config.path} has overflow_action = {action}: when auditd's plugin queue (q_depth) "
        f"is full, {effect}. The default, syslog, logs and drops the event.",
    )


# --- auditd's state report ----------------------------------------------------

def _state_report(f: Facts) -> tuple[AuditdState | None, AuditdConfig | None]:
    """auditd's state report and auditd.conf, from the newest sample."""
    if f.system is None:
        return None, None
    return f.system.auditd_state, f.system.config


def _age(state: AuditdState, now: float | None) -> str:
    return (f"auditd's state report of {clock_text(state.mtime)}, "
            f"{_old(state, now)} old")


def _old(state: AuditdState, now: float | None) -> str:
    """How old the report is, in whole seconds."""
    return seconds_text(round(max((now or state.mtime) - state.mtime, 0)))


def queue_size(state: AuditdState | None, config: AuditdConfig | None) -> int | None:
    """The plugin queue's size: the report's, else auditd.conf's q_depth."""
    if state is not None and state.plugin_queue_size:
        return state.plugin_queue_size
    return config.q_depth if config is not None else None


def _plugins(config: AuditdConfig | None) -> str:
    names = ", ".join(config.active_plugins) if config is not None else ""
    return names or "its plugins"


@rule("plugin-queue-filling")
def plugin_queue_filling(f: Facts) -> Found | None:
    state, config = _state_report(f)
    depth = state.plugin_queue_depth if state is not None else None
    size = queue_size(state, config)
    if depth is None or not size or depth <= size / 2:
        return None
    action = (config.overflow_action if config is not None else None) or "syslog"
    most = state.plugin_queue_max_depth
    return Found(
        "warning", "auditd's plugin queue is filling",
        f"auditd's queue to {_plugins(config)} holds {depth} of {size} events "
        f"({share_text(depth, size)})"
        + (f", at most {most} so far" if most is not None else "")
        + f" ({_age(state, f.now)}). The plugins read slower than records arrive; when the "
        f"queue is full auditd does what overflow_action says ({action}): drop the event "
        "for the plugins, or suspend them, or stop the machine. Check what the plugins "
        "send to (a remote log server, a SIEM) and raise q_depth in auditd.conf.",
    )


@rule("plugin-queue-overflow")
def plugin_queue_overflow(f: Facts) -> Found | None:
    state, config = _state_report(f)
    if state is None or not state.plugin_queue_overflow:
        return None
    action = (config.overflow_action if config is not None else None) or "syslog"
    size = queue_size(state, config)
    return Found(
        "warning", "auditd's plugin queue has overflowed",
        f"auditd found its queue to {_plugins(config)} full (size {size}) at least once "
        f"since it started ({_age(state, f.now)}), and did what overflow_action says "
        f"({action}): with syslog or ignore the plugins missed those events; with "
        "suspend they get nothing more until auditd restarts. The audit log on disk is not "
        "affected. auditd keeps this flag until it restarts. Raise q_depth in auditd.conf "
        "(and restart auditd) if the plugins must see every event.",
    )


@rule("auditd-logging-suspended")
def auditd_logging_suspended(f: Facts) -> Found | None:
    state, _ = _state_report(f)
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
    return Found(
        "critical", "auditd has suspended logging",
        f"auditd writes no more records to its log{why}, {_age(state, f.now)}. It does so "
        "when disk_full_action, disk_error_action or admin_space_left_action is SUSPEND. "
        "Records still leave the kernel, so nothing shows in the backlog, but the audit "
        "trail has a hole. Free space on the log's partition, then tell auditd to resume "
        "(SIGUSR2, or `auditctl --signal resume` from auditd 3.1.1).",
        "kill -USR2 $(pidof auditd)",
    )


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
    share = share_text(depth, size)
    fill = f" ({share})" if share else ""
    level = "warning" if depth is not None and size and depth > size / 2 else ""
    parts = [(f"queue {count_text(depth)} / {count_text(size)}{fill}", level),
             (f"max used {count_text(state.plugin_queue_max_depth)}", "")]
    if state.plugin_queue_overflow:
        parts.append(("OVERFLOWED", "warning"))
    if state.logging_suspended:
        parts.append(("logging SUSPENDED", "error"))
    parts.append((f"report {_old(state, now)} old", ""))
    return parts
