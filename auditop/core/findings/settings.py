"""Rules about the kernel's audit settings: failure mode, backlog_limit
against its boot value and the figure of the base rules, audit locked or
off, the rate limit, and a setting changed underneath auditop (drift)."""

from __future__ import annotations

from auditop.core.drift import (DEMO_ACTOR, KEEP_SECONDS, SettingChange, actor_details,
                                actor_text, current, now_critical)
from auditop.core.findings.base import Facts, Found, fill, rule
from auditop.core.model import FAILURE_MODES, AuditdLogReading, AuditStatus
from auditop.core.text import clock_text, seconds_text


@rule("failure-panic")
def failure_panic(f: Facts) -> Found | None:
    if f.status is None or f.status.failure != 2:
        return None
    limit = f.status.backlog_limit
    if f.window:
        now = f"The backlog peaked at {fill(f.window.backlog_peak, limit)} in the last window."
    else:
        now = f"The backlog is at {fill(f.status.backlog, limit)}."
    return Found(
        "critical", "Audit failure mode is panic",
        "The kernel's failure mode is 2 (panic): the first audit record it has to drop "
        f"(backlog over its limit, rate limit, out of memory) crashes the machine. {now} "
        "Switch to printk (-f 1) "
        "only if your security policy allows it; persist it with `-f 1` in /etc/audit/rules.d/.",
        "auditctl -f 1",
    )


@rule("backlog-limit-small")
def backlog_limit_small(f: Facts) -> Found | None:
    limit, wanted = f.status.backlog_limit if f.status else None, f.limits.backlog_limit
    if not limit or limit >= wanted:  # 0 is unlimited
        return None
    return Found(
        "warning", "Backlog limit is small",
        f"The kernel queues at most {limit} records for auditd (backlog_limit). A burst "
        "longer than that (a login storm, a package install) makes processes wait and then "
        f"loses records. {wanted} is the figure of the upstream base rules, STIG and CIS. "
        f"Make it permanent with the line `-b {wanted}` in a file in /etc/audit/rules.d/, and "
        f"with the boot parameter audit_backlog_limit={wanted} so records from early boot fit too.",
        f"auditctl -b {wanted}",
    )


@rule("backlog-limit-boot-mismatch")
def backlog_limit_boot_mismatch(f: Facts) -> Found | None:
    running = f.status.backlog_limit if f.status else None
    boot = f.system.boot.audit_backlog_limit if f.system else None
    if running is None or boot is None or running == boot:
        return None
    lower = _unlimited_last(running) < _unlimited_last(boot)
    return Found(
        "warning" if lower else "info",
        "Backlog limit differs from the boot parameter",
        f"The kernel was booted with audit_backlog_limit={boot}, but the running limit is "
        f"{_limit_text(running)}: something changed it after boot, usually a `-b` line in "
        "the audit rules (/etc/audit/rules.d/)."
        + (" It is now lower than the boot value asked for." if lower else ""),
        f"auditctl -b {boot}" if lower else None,
    )


@rule("audit-locked")
def audit_locked(f: Facts) -> Found | None:
    if f.status is None or f.status.enabled != 2:
        return None
    return Found(
        "warning", "Audit configuration is locked",
        "Audit is locked (enabled 2, from `-e 2` at the end of the rules): the backlog limit, "
        "rate limit, wait time, failure mode and rules cannot be changed until the next reboot, "
        "so auditop's controls fail with EPERM. To change them, edit the rules in "
        "/etc/audit/rules.d/ and reboot.",
    )


@rule("audit-disabled")
def audit_disabled(f: Facts) -> Found | None:
    if f.status is None or f.status.enabled != 0:
        return None
    return Found(
        "info", "Kernel auditing is off",
        "Kernel auditing is disabled (enabled 0): the kernel produces no audit records, "
        "so there is no backlog to watch.",
        "auditctl -e 1",
    )


@rule("rate-limit")
def rate_limit(f: Facts) -> Found | None:
    if f.status is None or not f.status.rate_limit:
        return None
    panic = " and, in failure mode 2, panic the machine" if f.status.failure == 2 else ""
    return Found(
        "info", "Audit rate limit is set",
        f"The kernel accepts at most {f.status.rate_limit} audit records per second "
        "(rate_limit, `-r`). Records above that are dropped and counted as lost with "
        f"\"rate limit exceeded\" in the kernel log{panic}.",
        "auditctl -r 0",
    )


def _unlimited_last(limit: int) -> float:
    return float("inf") if limit == 0 else limit


def _limit_text(limit: int) -> str:
    return "0 (unlimited)" if limit == 0 else str(limit)


# --- drift: a setting changed underneath auditop --------------------------------

DEFAULT_LOG = "/var/log/audit/audit.log"


_WHAT_IT_DOES = {
    "enabled": "whether the kernel audits at all (2: on and locked until reboot)",
    "failure": "what the kernel does when it must lose a record (2: panic the machine)",
    "backlog_limit": "how many records the kernel queues for auditd",
    "rate_limit": "how many records per second the kernel accepts (0: no limit)",
    "backlog_wait_time": "how long a process waits for room in a full backlog",
}


@rule("setting-changed")
def setting_changed(f: Facts) -> Found | None:
    """The changes are history; what each setting is now, and the severity,
    follow the newest status (a failure 1 -> 2 -> 0 -> 1 is no panic risk)."""
    changes, status = f.history.setting_changes(), f.status
    log = f.system.auditd_log if f.system else None
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
              + f" (Shown for {seconds_text(KEEP_SECONDS)} after the change.)")
    path = log.path if log is not None else None
    remedy = "ausearch -m CONFIG_CHANGE -i -ts recent" + (
        f" -if {path}" if path and path != DEFAULT_LOG else "")
    return Found("critical" if critical else "warning", title,
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
    before, seen = clock_text(change.after), clock_text(change.time)
    when = f"at {seen}" if before == seen else f"between {before} and {seen}"
    said = f"{change.field} ({what}) went from {change.old} to {change.new} {when}"
    if change.by is not None:
        record = change.by
        whose = "the simulated auditd's log" if record.comm == DEMO_ACTOR else "auditd's log"
        return (f"{said}, set by {actor_details(record)}, according to {whose} "
                f"(CONFIG_CHANGE at {clock_text(record.time)}, serial {record.serial}).")
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


def change_text(change: SettingChange, when: bool = True,
                status: AuditStatus | None = None) -> str:
    """"backlog_limit 64 -> 100 at 12:00:01 by auditctl (pid 14356, auid
    unset)"; without `when`, the time only when nobody is named; ", now 200"
    when `status` (the newest) says it has changed again since (auditop's
    own change)."""
    by = f" by {actor_text(change.by)}" if change.by is not None else ""
    at = f" at {clock_text(change.time)}" if when or not by else ""
    value = current(change, status)
    later = f", now {value}" if value != change.new else ""
    return (f"{change.field} changed {change.old} -> {change.new}{at}"
            f"{by or ', not by auditop'}{later}")
