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
    info      audit-disabled, log-format-enriched, rate-limit
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

from auditop.core.history import History, Window, forecast_seconds_to_full
from auditop.core.model import AuditStatus, SystemInfo

Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    severity: Severity
    title: str
    detail: str
    remedy: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "detail": self.detail, "remedy": self.remedy}


@dataclass(frozen=True, slots=True)
class Thresholds:
    rmem_default: int = 8 * 1024 * 1024  # bytes; auditd's socket buffer for bursts
    backlog_limit: int = 8192  # upstream base rules, STIG and CIS
    backlog_warning: float = 0.5  # fraction of backlog_limit reached by the window's peak
    backlog_critical: float = 0.8
    q_depth: int = 512  # auditd itself warns below this


DEFAULT = Thresholds()


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the rules may look at; any part can be None."""

    history: History
    window: Window | None  # newest closed window
    status: AuditStatus | None  # newest answered status
    system: SystemInfo | None  # newest sample's
    limits: Thresholds


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

def _lost_increasing(f: _Facts) -> Finding | None:
    if f.window is None or f.window.lost <= 0:
        return None
    total = f.window.status.lost if f.window.status else None
    return Finding(
        "lost-increasing", "critical", "Audit records are being lost",
        f"The kernel dropped {f.window.lost} audit records in the last "
        f"{f.window.lost_seconds:.1f} s{_per_s(f.window.lost_per_s)}; its lost counter is now {_text(total)}. A lost record "
        "is gone for good: the audit trail has a hole. The kernel loses records when the backlog "
        "is over its limit and the wait budget is spent, when the rate limit is exceeded, when "
        "memory runs out, or when the hold or retry queue overflows; the kernel log "
        "(`dmesg | grep audit`) says which.",
    )


def _backlog_high(f: _Facts) -> Finding | None:
    peak = f.window.backlog_peak if f.window else None
    limit = f.status.backlog_limit if f.status else None
    if peak is None or not limit:  # limit 0: unlimited
        return None
    if peak >= f.limits.backlog_critical * limit:
        severity: Severity = "critical"
    elif peak >= f.limits.backlog_warning * limit:
        severity = "warning"
    else:
        return None
    forecast = forecast_seconds_to_full(f.history)
    trend = f" At this trend it reaches the limit in about {forecast:.0f} s." if forecast else ""
    return Finding(
        "backlog-high", severity, "Backlog is filling up",
        f"The backlog (records waiting for auditd) peaked at {_fill(peak, limit)} in the last "
        "window. Above the limit, every process that produces an audit record sleeps up to "
        "backlog_wait_time, and then its record is lost. auditd is not keeping up: check the "
        f"disk it writes to, its flush and log_format settings and its plugins.{trend}",
    )


def _netlink_drops(f: _Facts) -> Finding | None:
    rate = f.window.netlink_drops_per_s if f.window else None
    if not rate or rate <= 0:
        return None
    rmem = f.system.rmem_default if f.system else None
    small = rmem is not None and rmem < f.limits.rmem_default
    return Finding(
        "netlink-drops", "warning", "auditd's socket is overrun",
        f"The kernel found auditd's netlink socket full {rate:.1f} times per second in the last "
        "window (Drops in /proc/net/netlink). Those records are not lost by themselves: kauditd "
        "puts them on its retry queue and sends them again. But auditd is reading slower than "
        "records arrive, and the backlog grows behind it. A larger socket buffer absorbs bursts: "
        f"net.core.rmem_default is {_bytes(rmem)}.",
        _sysctl_rmem(f.limits) if small else None,
    )


def _backlog_wait(f: _Facts) -> Finding | None:
    rate = f.window.wait_per_s if f.window else None
    if not rate or rate <= 0:
        return None
    lost = f.window.lost > 0
    budget = f.status.backlog_wait_time if f.status else None
    return Finding(
        "backlog-wait", "critical" if lost else "warning", "Processes are waiting for audit",
        f"Processes spent {rate:.0f} jiffies per second (a jiffy is 1 ms at HZ=1000, 4 ms at "
        "HZ=250) asleep because the backlog was over its limit (backlog_wait_time_actual is "
        f"rising). Each one waits up to backlog_wait_time ({_text(budget)} jiffies) for auditd "
        "to make room, so the system feels frozen while auditd catches up."
        + (" Records were lost as well: waiting was not enough." if lost else ""),
    )


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


def _kernel_throttling(f: _Facts) -> Finding | None:
    window = f.window
    latest = f.history.latest
    held_now = latest.held_for if latest is not None and latest.throttled else 0.0
    held = max(held_now, window.held_for if window and window.held_senders else 0.0)
    if held <= 0:
        return None
    budget = f.status.backlog_wait_time if f.status else None
    return Finding(
        "kernel-throttling", "warning", "Kernel is holding processes that talk to audit",
        f"The kernel has held auditop's requests asleep for up to {held:.1f} s: since 5.17 it "
        "makes every process that sends it an audit request sleep up to backlog_wait_time "
        f"({_text(budget)} jiffies) while the backlog is over its limit, and audited "
        "processes wait the same way. auditop's numbers are real all the same: the kernel "
        "answers before it makes the sender sleep. Raising backlog_limit above the backlog "
        "(auditctl -b) takes effect at once and is not held.",
    )


# --- the system around the kernel -----------------------------------------

def _rmem_default_small(f: _Facts) -> Finding | None:
    rmem = f.system.rmem_default if f.system else None
    wanted = f.limits.rmem_default
    if rmem is None or rmem >= wanted:
        return None
    rmem_max = f.system.rmem_max
    capped = (
        f" net.core.rmem_max is {_bytes(rmem_max)}: it caps programs that ask for a buffer "
        "with SO_RCVBUF, but rmem_default is used as is, so raising rmem_default is enough "
        "for auditd; raise rmem_max too for readers that ask."
        if rmem_max is not None and rmem_max < wanted else ""
    )
    return Finding(
        "rmem-default-small", "warning", "auditd's socket buffer is small",
        "auditd 3.x asks for no buffer size, so its netlink socket gets net.core.rmem_default "
        f"= {_bytes(rmem)}. A burst bigger than that overruns the socket: auditd logs \"Error "
        "receiving audit netlink packet (No buffer space available)\" and the kernel requeues "
        f"records while the backlog grows. {_bytes(wanted)} absorbs bursts. Keep it after a "
        f"reboot: echo 'net.core.rmem_default = {wanted}' > /etc/sysctl.d/60-auditd.conf.{capped}",
        _sysctl_rmem(f.limits),
    )


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


_RULES: tuple[Callable[[_Facts], Finding | None], ...] = (
    _failure_panic, _backlog_limit_small, _backlog_limit_boot_mismatch, _auditd_not_running,
    _audit_locked, _audit_disabled, _rate_limit, _lost_increasing, _backlog_high,
    _netlink_drops, _backlog_wait, _kernel_not_answering, _kernel_throttling,
    _rmem_default_small,
    _auditd_stopped, _flush_sync, _log_format_enriched, _q_depth_small, _overflow_action,
)


# --- wording helpers --------------------------------------------------------

def _sysctl_rmem(limits: Thresholds) -> str:
    return f"sysctl -w net.core.rmem_default={limits.rmem_default}"


def _fill(backlog: int | None, limit: int | None) -> str:
    if backlog is None or limit is None:
        return f"{_text(backlog)} of the limit {_text(limit)}"
    if limit == 0:
        return f"{backlog} (limit 0: unlimited)"
    return f"{backlog} of the limit {limit} ({100 * backlog / limit:.0f}%)"


def _limit_text(limit: int) -> str:
    return "0 (unlimited)" if limit == 0 else str(limit)


def _unlimited_last(limit: int) -> float:
    return float("inf") if limit == 0 else limit


def _per_s(rate: float | None) -> str:
    return "" if rate is None else f" ({rate:.1f}/s)"


def _bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    if n >= 1024 * 1024:
        return f"{n} bytes ({n / 1024 / 1024:.1f} MiB)"
    return f"{n} bytes ({n // 1024} KiB)"


def _text(value: int | None) -> str:
    return "unknown" if value is None else str(value)
