"""Findings: pure rules over History. Each has a stable id, a severity, a
title, an explanation a newcomer understands, and a remedy where one exists.

What the rules look at: the newest *closed* window for anything measured
over time (lost, backlog peak, drops, waiting), the newest answered status
for the kernel's settings, and the newest sample's system info (sysctls,
auditd, auditd.conf). So configuration findings show from the first answered
sample, and measured ones from the first closed window. Every rule skips
quietly what it cannot know (a field the kernel did not send, no config).

Ids and severities:

    critical  failure-panic, lost-increasing, auditd-not-running, auditd-stopped
    critical/warning  backlog-high (80% / 50% of the limit), backlog-wait (critical with lost)
    warning   rmem-default-small, backlog-limit-small, netlink-drops,
              kernel-not-answering, kernel-throttling, audit-locked, flush-sync
    warning/info  backlog-limit-boot-mismatch (warning when the running limit is lower),
                  q-depth-small (warning below 512, info below backlog_limit),
                  overflow-action (info for ignore, warning for suspend/single/halt)
    info      audit-disabled, log-format-enriched, rate-limit, kernel-log-unreadable

and, from core/findings_auditd.py (drift and auditd's state report):

    critical  auditd-logging-suspended
    critical/warning  setting-changed (critical while a changed failure or enabled is 2 now)
    warning   plugin-queue-filling, plugin-queue-overflow

The pipeline's rules (lost, backlog, waiting, auditd's socket, the kernel
log) are in core/pipeline_rules.py; what a finding is, in core/finding.py.
"""

from __future__ import annotations

from typing import Callable

from auditop.core import findings_auditd
from auditop.core import pipeline_rules as pipeline
from auditop.core.finding import (DEFAULT, SEVERITY_ORDER, Facts, Finding, Severity,
                                  Thresholds)
from auditop.core.finding import fill as _fill
from auditop.core.finding import limit_text as _limit_text
from auditop.core.finding import text as _text
from auditop.core.finding import unlimited_last as _unlimited_last
from auditop.core.history import History

_Facts = Facts  # the rules below predate the split

__all__ = ["DEFAULT", "SEVERITY_ORDER", "FINDING_IDS", "Finding", "Severity", "Thresholds",
           "evaluate"]


def evaluate(history: History, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """Every finding that holds now, critical first, then by id."""
    facts = _Facts(
        history=history,
        window=history.windows[-1] if history.windows else None,
        status=history.last_answered.status if history.last_answered else None,
        system=history.last_system,
        limits=thresholds,
    )
    found = [finding for rule in _RULES if (finding := rule(facts)) is not None]
    found += [finding for finding in _auditd_state(facts) if finding is not None]
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], f.id))


# --- the kernel's settings -------------------------------------------------

def _failure_panic(f: _Facts) -> Finding | None:
    if f.status is None or f.status.failure != 2:
        return None
    limit = f.status.backlog_limit
    if f.window:
        now = f"The backlog peaked at {_fill(f.window.backlog_peak, limit)} in the last window."
    else:
        now = f"The backlog is at {_fill(f.status.backlog, limit)}."
    return Finding(
        "failure-panic", "critical", "Audit failure mode is panic",
        "The kernel's failure mode is 2 (panic): the first audit record it has to drop "
        f"(backlog over its limit, rate limit, out of memory) crashes the machine. {now} "
        "Switch to printk (-f 1) "
        "only if your security policy allows it; persist it with `-f 1` in /etc/audit/rules.d/.",
        "auditctl -f 1",
    )


def _backlog_limit_small(f: _Facts) -> Finding | None:
    limit, wanted = f.status.backlog_limit if f.status else None, f.limits.backlog_limit
    if not limit or limit >= wanted:  # 0 is unlimited
        return None
    return Finding(
        "backlog-limit-small", "warning", "Backlog limit is small",
        f"The kernel queues at most {limit} records for auditd (backlog_limit). A burst "
        "longer than that (a login storm, a package install) makes processes wait and then "
        f"loses records. {wanted} is the figure of the upstream base rules, STIG and CIS. "
        f"Make it permanent with the line `-b {wanted}` in a file in /etc/audit/rules.d/, and "
        f"with the boot parameter audit_backlog_limit={wanted} so records from early boot fit too.",
        f"auditctl -b {wanted}",
    )


def _backlog_limit_boot_mismatch(f: _Facts) -> Finding | None:
    running = f.status.backlog_limit if f.status else None
    boot = f.system.boot.audit_backlog_limit if f.system else None
    if running is None or boot is None or running == boot:
        return None
    lower = _unlimited_last(running) < _unlimited_last(boot)
    return Finding(
        "backlog-limit-boot-mismatch", "warning" if lower else "info",
        "Backlog limit differs from the boot parameter",
        f"The kernel was booted with audit_backlog_limit={boot}, but the running limit is "
        f"{_limit_text(running)}: something changed it after boot, usually a `-b` line in "
        "the audit rules (/etc/audit/rules.d/)."
        + (" It is now lower than the boot value asked for." if lower else ""),
        f"auditctl -b {boot}" if lower else None,
    )


def _auditd_not_running(f: _Facts) -> Finding | None:
    # enabled 2 is "on and locked": auditing is on there too.
    if f.status is None or f.status.enabled not in (1, 2):
        return None
    if f.status.pid == 0:
        return Finding(
            "auditd-not-running", "critical", "auditd is not running",
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
        return Finding(
            "auditd-not-running", "critical", "auditd has died",
            f"The kernel still names pid {f.status.pid} as its audit daemon, but no such "
            "process is alive. Records queue in the backlog until the kernel notices, and "
            "are lost once it is full.",
            "systemctl start auditd",
        )
    return None


def _audit_locked(f: _Facts) -> Finding | None:
    if f.status is None or f.status.enabled != 2:
        return None
    return Finding(
        "audit-locked", "warning", "Audit configuration is locked",
        "Audit is locked (enabled 2, from `-e 2` at the end of the rules): the backlog limit, "
        "rate limit, wait time, failure mode and rules cannot be changed until the next reboot, "
        "so auditop's controls fail with EPERM. To change them, edit the rules in "
        "/etc/audit/rules.d/ and reboot.",
    )


def _audit_disabled(f: _Facts) -> Finding | None:
    if f.status is None or f.status.enabled != 0:
        return None
    return Finding(
        "audit-disabled", "info", "Kernel auditing is off",
        "Kernel auditing is disabled (enabled 0): the kernel produces no audit records, "
        "so there is no backlog to watch.",
        "auditctl -e 1",
    )


def _rate_limit(f: _Facts) -> Finding | None:
    if f.status is None or not f.status.rate_limit:
        return None
    panic = " and, in failure mode 2, panic the machine" if f.status.failure == 2 else ""
    return Finding(
        "rate-limit", "info", "Audit rate limit is set",
        f"The kernel accepts at most {f.status.rate_limit} audit records per second "
        "(rate_limit, `-r`). Records above that are dropped and counted as lost with "
        f"\"rate limit exceeded\" in the kernel log{panic}.",
        "auditctl -r 0",
    )


# --- measured over the last window ----------------------------------------

def _kernel_not_answering(f: _Facts) -> Finding | None:
    latest = f.history.latest
    if latest is None or latest.status is not None or latest.error is None:
        return None
    return Finding(
        "kernel-not-answering", "warning",
        f"Kernel not answering for {f.history.silent_seconds:.0f} s",
        f"The kernel has not answered auditop's status request ({latest.error}). On kernels "
        "5.17 and later any process that talks to audit while the backlog is over its limit "
        "is made to sleep up to backlog_wait_time, auditop included: a silent kernel usually "
        "means the backlog is full and audited processes are waiting too.",
    )


# --- the system around the kernel -----------------------------------------

def _auditd_stopped(f: _Facts) -> Finding | None:
    auditd = f.system.auditd if f.system else None
    if auditd is None or not auditd.stopped:
        return None
    panic = " (in failure mode 2 the machine panics)" if f.status and f.status.failure == 2 else ""
    return Finding(
        "auditd-stopped", "critical", "auditd is stopped",
        f"auditd (pid {auditd.pid}) is stopped (state {auditd.state}), for example by SIGSTOP, "
        "Ctrl-Z or a debugger. It reads nothing, so the backlog fills; then processes that "
        f"produce audit records wait and records are lost{panic}.",
        f"kill -CONT {auditd.pid}",
    )


def _flush_sync(f: _Facts) -> Finding | None:
    config = f.system.config if f.system else None
    flush = (config.flush or "").lower() if config else ""
    if flush not in ("data", "sync"):
        return None
    return Finding(
        "flush-sync", "warning", "auditd writes synchronously",
        f"{config.path} has flush = {flush}: auditd forces every record to disk before it "
        "reads the next one, so under load it reads the kernel slowly and the backlog grows. "
        "flush = incremental_async with freq = 50 flushes in the background every 50 records.",
    )


def _log_format_enriched(f: _Facts) -> Finding | None:
    config = f.system.config if f.system else None
    if config is None or (config.log_format or "").lower() != "enriched":
        return None
    return Finding(
        "log-format-enriched", "info", "auditd enriches every record",
        f"{config.path} has log_format = ENRICHED: auditd looks up user, group, syscall and "
        "address names for every record it writes (one report measured it at about half of "
        "auditd's CPU time). "
        "log_format = RAW writes the numbers and leaves the lookups to `ausearch -i`.",
    )


def _q_depth_small(f: _Facts) -> Finding | None:
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
    return Finding(
        "q-depth-small", "warning" if depth < f.limits.q_depth else "info",
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


def _overflow_action(f: _Facts) -> Finding | None:
    config = f.system.config if f.system else None
    action = (config.overflow_action or "").lower() if config else ""
    if action not in _OVERFLOW_ACTIONS:  # syslog (the default) logs and drops
        return None
    severity, effect = _OVERFLOW_ACTIONS[action]
    return Finding(
        "overflow-action", severity, f"Plugin queue overflow action is {action}",
        f"{config.path} has overflow_action = {action}: when auditd's plugin queue (q_depth) "
        f"is full, {effect}. The default, syslog, logs and drops the event.",
    )


# --- drift and auditd's state report (core/findings_auditd.py) ------------

def _setting_changed(f: _Facts) -> Finding | None:
    return findings_auditd.setting_changed(
        f.history.setting_changes(), f.system.auditd_log if f.system else None, f.status)


def _auditd_state(f: _Facts) -> list[Finding | None]:
    state = f.system.auditd_state if f.system else None
    if state is None:
        return []
    config, now = f.system.config, f.history.latest.time
    return [findings_auditd.plugin_queue_filling(state, config, now),
            findings_auditd.plugin_queue_overflow(state, config, now),
            findings_auditd.auditd_logging_suspended(state, now)]


_RULES: tuple[Callable[[_Facts], Finding | None], ...] = (
    _failure_panic, _backlog_limit_small, _backlog_limit_boot_mismatch, _auditd_not_running,
    _audit_locked, _audit_disabled, _rate_limit, pipeline.lost_increasing,
    pipeline.backlog_high, pipeline.netlink_drops, pipeline.backlog_wait,
    _kernel_not_answering, pipeline.kernel_throttling, pipeline.rmem_default_small,
    pipeline.kernel_log_unreadable,
    _auditd_stopped, _flush_sync, _log_format_enriched, _q_depth_small, _overflow_action,
    _setting_changed,
)

# Every id a rule above can give (`check --warn/--crit/--ok` accept these).
FINDING_IDS: tuple[str, ...] = (
    "failure-panic", "backlog-limit-small", "backlog-limit-boot-mismatch",
    "auditd-not-running", "audit-locked", "audit-disabled", "rate-limit", "lost-increasing",
    "backlog-high", "netlink-drops", "backlog-wait", "kernel-not-answering",
    "kernel-throttling", "rmem-default-small", "kernel-log-unreadable", "auditd-stopped",
    "flush-sync", "log-format-enriched", "q-depth-small", "overflow-action",
    "setting-changed", "plugin-queue-filling", "plugin-queue-overflow",
    "auditd-logging-suspended",
)
