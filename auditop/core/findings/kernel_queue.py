"""Rules about the kernel's queue: records lost (and why, from the kernel
log), the backlog filling, processes waiting for room, the kernel holding
auditop's senders or not answering, and the kernel log auditop cannot read."""

from __future__ import annotations

from auditop.core.advice import power_of_two_above, suggest_backlog_limit
from auditop.core.findings.base import Facts, Found, Severity, fill, rule
from auditop.core.history import forecast_seconds_to_full, recent_loss_causes
from auditop.core.losses import (NOT_READING, RECENT_SECONDS, Causes, cause_label,
                                  causes_text, dominant_cause)
from auditop.core.text import (count_text, jiffies_text, rate_number, rate_text, seconds_text,
                               wait_rate_text)


@rule("lost-increasing")
def lost_increasing(f: Facts) -> Found | None:
    window = f.window
    if window is None or window.lost <= 0:
        return None
    total = window.status.lost if window.status else None
    causes, ago = recent_loss_causes(f.history.windows, window)
    title = "Audit records are being lost"
    if causes:
        named = causes_text(causes)
        title += f" ({named})"
        messages = sum(count for _, count in causes)
        when = ("in this window" if ago == 0
                else f"{seconds_text(round(ago))} before this window ended")
        hidden = (f", and suppressed {window.loss_suppressed} more"
                  if window.loss_suppressed else "")
        why = (f"lost: {named}. The kernel log said so {when} ({messages} "
               f"message{'s' if messages != 1 else ''}{hidden}). The kernel rate-limits "
               "these messages (printk_ratelimit, \"callbacks suppressed\"): they tell which "
               "cause is at work, not how many records were lost.")
    elif f.system is not None and f.system.kernel_log_error:
        why = f"The cause is unknown: {f.system.kernel_log_error}."
    else:
        watched = min(RECENT_SECONDS, window.end - f.history.windows[0].start)
        why = ("No kernel log message named a cause in the last "
               f"{seconds_text(round(watched))} (with "
               "failure 0 the kernel prints none, and it rate-limits the others; "
               "`dmesg | grep audit` shows what it printed before).")
    per_s = f" ({rate_text(window.lost_per_s)})" if window.lost_per_s is not None else ""
    detail = (
        f"The kernel dropped {window.lost} audit records in the last "
        f"{seconds_text(window.lost_seconds)}{per_s}; its lost counter is now "
        f"{count_text(total)}. A lost record is gone for good: the audit trail has a hole. {why}")
    advice_text, remedy = _loss_remedy(f, causes)
    return Found("critical", title, detail + advice_text, remedy)


def _loss_remedy(f: Facts, causes: Causes) -> tuple[str, str | None]:
    """(a sentence for the detail, the remedy) for the cause the kernel
    logged: its rate limit -> rate_limit; a queue behind auditd or printk's
    limit -> auditd is not reading; memory -> no limit helps; the backlog
    limit, or no cause named -> backlog_limit from the worst episode."""
    cause = dominant_cause(causes)
    if cause == "rate-limit":
        return _rate_limit_advice(f)
    if cause in NOT_READING:
        return _not_reading_advice(f, cause)
    if cause == "out-of-memory":
        return (" The kernel could not allocate audit records: the machine is short of "
                "memory, and a larger backlog_limit would only ask for more."), None
    rate = f.status.rate_limit if f.status else None
    peak = f.window.backlog_peak if f.window else None
    limit = f.status.backlog_limit if f.status else None
    if cause is None and rate and (peak is None or not limit or peak < limit):
        # No message named a cause (printk's budget is kernel-wide) and the
        # backlog was not seen full: the rate limit is as likely as the backlog.
        return (f" rate_limit is {rate} records/s and the backlog was not seen at its "
                "limit: the rate limit may have dropped them as well as the backlog; "
                "`dmesg | grep audit` tells which before any limit is changed."), None
    return _limit_advice(f)


def _rate_limit_advice(f: Facts) -> tuple[str, str | None]:
    rate = f.status.rate_limit if f.status else None
    lost_per_s = f.window.lost_per_s if f.window else None
    if not rate:
        return (" The kernel's rate limit is off now (rate_limit 0): these losses came "
                "before it was lifted."), None
    produced = rate + (lost_per_s or 0.0)
    suggested = power_of_two_above(int(produced + 0.999), rate)
    return (f" The kernel dropped them at its rate limit (rate_limit {rate} records/s): the "
            f"rules produce about {rate_number(produced)} records/s. No backlog_limit changes "
            "that. "
            f"Raise the rate limit above what the rules produce ({suggested}), remove it "
            "(`auditctl -r 0`) if auditd and the backlog can take the flow, or narrow the "
            "rules that produce most (`aureport --summary -k`)."), (
        f"auditctl -r {suggested}   # rate_limit {rate} + {rate_text(lost_per_s or 0.0)} lost, "
        "rounded up")


def _not_reading_advice(f: Facts, cause: str) -> tuple[str, str | None]:
    """auditd is not taking records: say why, from its process."""
    label = cause_label(cause)
    pid = f.status.pid if f.status else None
    auditd = f.system.auditd if f.system else None
    if pid == 0:
        return (f" \"{label}\": no auditd is registered with the kernel (pid 0), so records "
                "have nowhere to go; no backlog_limit holds that. Start auditd."), \
            "systemctl start auditd   # or: auditd"
    if auditd is not None and auditd.stopped:
        return (f" \"{label}\": auditd (pid {auditd.pid}) is stopped (state {auditd.state}), so the queues "
                "behind its socket overflow; no backlog_limit holds that. Resume it."), \
            f"kill -CONT {auditd.pid}"
    if auditd is not None and auditd.state == "D":
        why = (f"auditd (pid {auditd.pid}) is waiting on its disk (state D): check the disk it "
               "writes to and its flush setting")
    elif auditd is not None:
        why = (f"auditd (pid {auditd.pid}, state {auditd.state}) is not taking records as fast "
               "as they come: check its disk, its flush and log_format settings and its plugins")
    else:
        why = "auditd is not taking records (its process is not visible to auditop)"
    return f" \"{label}\": {why}; no backlog_limit holds that.", None


def _limit_advice(f: Facts) -> tuple[str, str | None]:
    """(a sentence for the detail, the remedy) from the worst episode seen."""
    limit = f.status.backlog_limit if f.status else None
    mem_total = f.system.mem_total if f.system else None
    advice = suggest_backlog_limit(f.history.windows, limit, mem_total)
    if advice is None:
        return "", None
    auditd = f.system.auditd if f.system else None
    if f.status is not None and f.status.pid == 0:
        return (" auditd is not reading at all (no auditd is registered with the kernel): no "
                "backlog_limit holds that; start auditd."), "systemctl start auditd   # or: auditd"
    if auditd is not None and auditd.stopped:
        return (f" auditd is not reading at all (pid {auditd.pid} is stopped, state "
                f"{auditd.state}): no backlog_limit holds that; resume it."), \
            f"kill -CONT {auditd.pid}"
    if advice.too_big:
        return (f" A limit that would have held {advice.derivation()} is no fix: auditd is "
                "not keeping up at all; find out why (its disk, its flush and log_format "
                "settings, its plugins)."), None
    return (f" Suggested backlog_limit {advice.limit}, from {advice.derivation()}. Keep it "
            f"with `-b {advice.limit}` in /etc/audit/rules.d/."), advice.remedy()


@rule("backlog-high")
def backlog_high(f: Facts) -> Found | None:
    peak = f.window.backlog_peak if f.window else None
    limit = f.status.backlog_limit if f.status else None
    if peak is None or not limit:  # limit 0: unlimited
        return None
    # A burst can fill the backlog and drain it between two samples; when the
    # window lost records and the kernel's log says "backlog limit exceeded",
    # the backlog was at its limit whatever the samples read.
    logged = peak < limit and _limit_exceeded_logged(f)
    if logged or peak >= f.limits.backlog_critical * limit:
        severity: Severity = "critical"
    elif peak >= f.limits.backlog_warning * limit:
        severity = "warning"
    else:
        return None
    forecast = forecast_seconds_to_full(f.history)
    trend = (f" At this trend it reaches the limit in about {seconds_text(round(forecast))}."
             if forecast else "")
    wait = f.status.backlog_wait_time if f.status else None
    advice_text, remedy = _limit_advice(f) if peak >= limit or logged else ("", None)
    between = (f" That was its highest sample: the kernel logged \""
               f"{cause_label('backlog-limit')}\" for the records this window lost, so "
               "between two samples it reached its limit." if logged else "")
    return Found(
        severity, "Backlog is filling up",
        f"The backlog (records waiting for auditd) peaked at {fill(peak, limit)} in the last "
        f"window.{between} Above the limit, every process that produces an audit record "
        "sleeps up to "
        f"backlog_wait_time ({jiffies_text(wait, f.hz)}), and then its record is lost. "
        "auditd is not keeping up: check the disk it writes to, its flush and log_format "
        f"settings and its plugins.{trend}{advice_text}",
        remedy,
    )


def _limit_exceeded_logged(f: Facts) -> bool:
    """The last window lost records and the kernel's log named the backlog
    limit in that window (not merely recently: only then was the backlog at
    its limit in it)."""
    window = f.window
    return (window is not None and window.lost > 0
            and "backlog-limit" in dict(window.loss_causes))


@rule("backlog-wait")
def backlog_wait(f: Facts) -> Found | None:
    rate = f.window.wait_per_s if f.window else None
    if not rate or rate <= 0:
        return None
    lost = f.window.lost > 0
    budget = f.status.backlog_wait_time if f.status else None
    return Found(
        "critical" if lost else "warning", "Processes are waiting for audit",
        f"Processes spent {wait_rate_text(rate, f.hz)} ({rate_number(rate)} jiffies per "
        "second) asleep because the backlog was over its limit (backlog_wait_time_actual is "
        f"rising). Each one waits up to backlog_wait_time ({jiffies_text(budget, f.hz)}) for "
        "auditd to make room, so the system feels frozen while auditd catches up."
        + (" Records were lost as well: waiting was not enough." if lost else ""),
    )


@rule("kernel-throttling")
def kernel_throttling(f: Facts) -> Found | None:
    window = f.window
    latest = f.history.latest
    held_now = latest.held_for if latest is not None and latest.throttled else 0.0
    held = max(held_now, window.held_for if window and window.held_senders else 0.0)
    if held <= 0 or not _over_limit_or_silent(f, held):
        return None
    budget = f.status.backlog_wait_time if f.status else None
    return Found(
        "warning", "Kernel is holding processes that talk to audit",
        f"The kernel has held auditop's requests asleep for up to {seconds_text(held)}: since "
        "5.17 it "
        "makes every process that sends it an audit request sleep up to backlog_wait_time "
        f"({jiffies_text(budget, f.hz)}) while the backlog is over its limit, and audited "
        "processes wait the same way. auditop's numbers are real all the same: the kernel "
        "answers before it makes the sender sleep. Raising backlog_limit above the backlog "
        "(auditctl -b) takes effect at once and is not held.",
    )


def _over_limit_or_silent(f: Facts, held: float) -> bool:
    """The kernel holds a sender only while the backlog is over its limit and
    backlog_wait_time is not 0, so a sender that was merely slow (a busy
    machine scheduling auditop's sender processes late) is no throttle. The
    backlog must have been over the limit since the held send began (it may
    read low now: kauditd moves the queue to its retry queue while senders
    still sleep), or the kernel be silent, or the facts unknown."""
    latest = f.history.latest
    if latest is not None and latest.status is None:
        return True
    status = f.status
    limit = status.backlog_limit if status else None
    if limit is None:
        return True
    if limit == 0 or (status.backlog_wait_time == 0):  # unlimited, or no wait at all
        return False
    if latest is not None and latest.status.backlog is not None and latest.status.backlog > limit:
        return True
    since = (latest.time if latest is not None else 0.0) - held - f.history.interval
    for window in reversed(f.history.windows):
        if window.last.time < since:
            break
        if window.backlog_peak is not None and window.backlog_peak > limit:
            return True
    return False


@rule("kernel-not-answering")
def kernel_not_answering(f: Facts) -> Found | None:
    latest = f.history.latest
    if latest is None or latest.status is not None or latest.error is None:
        return None
    return Found(
        "warning",
        f"Kernel not answering for {seconds_text(round(f.history.silent_seconds))}",
        f"The kernel has not answered auditop's status request ({latest.error}). On kernels "
        "5.17 and later any process that talks to audit while the backlog is over its limit "
        "is made to sleep up to backlog_wait_time, auditop included: a silent kernel usually "
        "means the backlog is full and audited processes are waiting too.",
    )


@rule("kernel-log-unreadable")
def kernel_log_unreadable(f: Facts) -> Found | None:
    error = f.system.kernel_log_error if f.system else None
    if not error:
        return None
    return Found(
        "info", "Loss causes unknown: kernel log unreadable",
        f"{error[0].upper() + error[1:]}. The kernel says why it lost records "
        "(backlog limit exceeded, rate limit exceeded, a queue overflow) only in its log, "
        "so lost records are counted but their cause is not named.",
    )

