"""The pipeline's findings: the socket buffer auditd really has, why records
were lost, waits in seconds, and the backlog_limit they suggest."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditop.core.findings import evaluate
from auditop.core.history import History
from tests.unit.builders import HEALTHY_SYSTEM, feed, make_sample, with_buffers

MiB = 1024 * 1024
SMALL = 212992
BACKLOG = (("backlog-limit", 2),)


def findings(samples, close=True):
    history = History(interval=1.0)
    feed(history, samples)
    if close:
        history.flush()
    return {f.id: f for f in evaluate(history)}


def steady(system):
    return [make_sample(t, system=system) for t in (0.0, 0.5)]


# --- the socket auditd has ------------------------------------------------------

def test_after_sysctl_w_the_running_auditd_keeps_208_kib_and_needs_a_restart():
    """`sysctl -w net.core.rmem_default=8388608` with auditd running: the
    default is big now, the socket auditd has is not."""
    finding = findings(steady(with_buffers(8 * MiB, SMALL)))["rmem-default-small"]
    assert "still has 212992 bytes (208 KiB)" in finding.detail
    assert "net.core.rmem_default is 8388608 bytes (8.0 MiB) now" in finding.detail
    assert "A restart of auditd is needed for the new default to reach it" in finding.detail
    assert finding.remedy == "systemctl restart auditd"


def test_a_small_default_and_socket_ask_for_both_steps():
    finding = findings(steady(with_buffers(SMALL, SMALL)))["rmem-default-small"]
    assert "has a receive buffer of 212992 bytes (208 KiB)" in finding.detail
    assert "sock_diag" in finding.detail
    assert finding.remedy == ("sysctl -w net.core.rmem_default=8388608 && "
                              "systemctl restart auditd")


def test_the_finding_says_auditd_4_2_sets_no_enobufs():
    detail = findings(steady(with_buffers(SMALL, SMALL)))["rmem-default-small"].detail
    assert "No buffer space available" in detail
    assert "auditd 4.2 and later set NETLINK_NO_ENOBUFS" in detail
    assert "drops are counted all the same" in detail


def test_without_sock_diag_the_default_is_judged_and_the_finding_says_why():
    system = with_buffers(SMALL, None, sock_diag_error="this kernel has no netlink sock_diag")
    finding = findings(steady(system))["rmem-default-small"]
    assert "auditd's real buffer is unknown: this kernel has no netlink sock_diag" in (
        finding.detail)
    assert "if it started after that was set" in finding.detail
    assert finding.remedy == "sysctl -w net.core.rmem_default=8388608"


def test_without_auditd_the_default_is_what_the_next_one_gets():
    system = replace(HEALTHY_SYSTEM, rmem_default=SMALL, auditd=None, auditd_socket=None)
    finding = findings([make_sample(t, system=system, pid=0) for t in (0.0, 0.5)])[
        "rmem-default-small"]
    assert "when it starts" in finding.detail
    assert finding.remedy == "sysctl -w net.core.rmem_default=8388608"


def test_a_big_socket_is_fine_whatever_the_default_says_now():
    assert "rmem-default-small" not in findings(steady(with_buffers(SMALL, 8 * MiB)))


# --- why records were lost ---------------------------------------------------------

def losing(seconds, logged_at=(0.3,), suppressed=0, system=HEALTHY_SYSTEM):
    """Ten samples a second losing 100 records each; at `logged_at` the kernel
    log named the backlog limit."""
    out = []
    for i in range(round(seconds * 10)):
        t = i / 10
        sample = make_sample(t, lost=100 * i, backlog=65, backlog_limit=64, system=system)
        if any(abs(t - at) < 1e-9 for at in logged_at):
            sample = replace(sample, loss_causes=BACKLOG, loss_suppressed=suppressed)
        out.append(sample)
    return out


def test_the_lost_finding_names_its_cause():
    finding = findings(losing(1.0, suppressed=4400))["lost-increasing"]
    assert finding.title == "Audit records are being lost (backlog limit exceeded)"
    assert "lost: backlog limit exceeded." in finding.detail
    assert "2 messages, and suppressed 4400 more" in finding.detail
    assert "not how many records were lost" in finding.detail


def test_a_window_the_rate_limit_left_silent_keeps_the_cause_named_before():
    finding = findings(losing(4.0), close=False)["lost-increasing"]
    assert "lost: backlog limit exceeded" in finding.detail
    assert "s before this window ended" in finding.detail


def test_no_cause_named_says_so_without_guessing():
    finding = findings(losing(1.0, logged_at=()))["lost-increasing"]
    assert finding.title == "Audit records are being lost"
    assert "No kernel log message named a cause" in finding.detail


def test_an_unreadable_kernel_log_is_said_once_as_an_info_and_in_the_lost_finding():
    why = "cannot read the kernel log (/dev/kmsg: Permission denied): loss causes need root"
    system = replace(HEALTHY_SYSTEM, kernel_log_error=why)
    quiet = findings(steady(system))
    assert quiet["kernel-log-unreadable"].severity == "info"
    assert why[1:] in quiet["kernel-log-unreadable"].detail
    lost = findings(losing(1.0, logged_at=(), system=system))["lost-increasing"]
    assert f"The cause is unknown: {why}." in lost.detail
    assert "kernel-log-unreadable" not in findings(steady(HEALTHY_SYSTEM))


# --- advice and units -----------------------------------------------------------------

def test_the_lost_finding_suggests_a_limit_and_says_how_it_was_derived():
    finding = findings(losing(1.0))["lost-increasing"]
    # peak 65 + 900 lost over the window = 965 -> 1024
    assert finding.remedy.startswith("auditctl -b 1024   # peak 65 + 900 lost")
    assert "Suggested backlog_limit 1024, from the worst episode seen" in finding.detail
    assert "backlog peak 65 + 900 records lost = 965" in finding.detail
    backlog = findings(losing(1.0))["backlog-high"]
    assert backlog.remedy == finding.remedy


def test_no_limit_is_suggested_for_a_stopped_auditd():
    stopped = replace(HEALTHY_SYSTEM, auditd=replace(HEALTHY_SYSTEM.auditd, state="T"))
    finding = findings(losing(1.0, system=stopped))["lost-increasing"]
    assert finding.remedy == f"kill -CONT {HEALTHY_SYSTEM.auditd.pid}"
    assert "auditd is not reading at all" in finding.detail


def test_waits_are_in_seconds_at_the_kernels_hz():
    samples = [make_sample(i / 10, backlog_wait_time=15000, backlog_wait_time_actual=50 * i)
               for i in range(10)]
    finding = findings(samples)["backlog-wait"]
    assert "(15000 jiffies (60 s at HZ 250))" in finding.detail
    assert "2 s asleep per second (500 jiffies per second)" in finding.detail
    unknown = replace(HEALTHY_SYSTEM, hz=None)
    samples = [replace(s, system=unknown) for s in samples]
    assert "15000 jiffies (HZ unknown)" in findings(samples)["backlog-wait"].detail


def test_throttling_and_backlog_high_give_the_wait_in_seconds():
    held = [replace(make_sample(i / 10, backlog=70, backlog_limit=64, backlog_wait_time=500),
                    held_senders=1, held_for=1.5) for i in range(10)]
    found = findings(held)
    assert "(500 jiffies (2 s at HZ 250))" in found["kernel-throttling"].detail
    assert "backlog_wait_time (500 jiffies (2 s at HZ 250))" in found["backlog-high"].detail


def test_a_slow_sender_under_the_limit_is_no_throttle():
    """The kernel holds senders only while the backlog is over its limit; on
    a busy machine a sender process may just be scheduled late."""
    slow = [replace(make_sample(i / 10, backlog=0, backlog_limit=64), held_senders=1,
                    held_for=0.2) for i in range(10)]
    assert "kernel-throttling" not in findings(slow)
    unlimited = [replace(s, status=replace(s.status, backlog=900, backlog_limit=0))
                 for s in slow]
    assert "kernel-throttling" not in findings(unlimited)
    over = [replace(s, status=replace(s.status, backlog=65)) for s in slow]
    assert "kernel-throttling" in findings(over)
    no_wait = [replace(s, status=replace(s.status, backlog_wait_time=0)) for s in over]
    assert "kernel-throttling" not in findings(no_wait)  # the kernel sleeps 0 s
    # held now, the newest answer over the limit, the closed window not yet
    history = History(interval=1.0)
    feed(history, slow)
    history.flush()
    history.add(replace(slow[-1], mono=1.5, status=replace(slow[-1].status, backlog=65)))
    assert "kernel-throttling" in {f.id for f in evaluate(history)}


def test_a_sender_held_since_the_backlog_was_over_the_limit_is_throttled():
    """kauditd moves the queue to its retry queue: the backlog reads low
    while senders the kernel put to sleep earlier still sleep."""
    over = [make_sample(i / 10, backlog=65, backlog_limit=64) for i in range(10)]
    low = [replace(make_sample(1 + i / 10, backlog=3, backlog_limit=64), held_senders=2,
                   held_for=1.6) for i in range(10)]
    assert "kernel-throttling" in findings(over + low)
    later = [replace(s, time=s.time + 5, mono=s.mono + 5) for s in low]
    assert "kernel-throttling" not in findings(over + later)  # over too long before


# --- a burst between two samples ---------------------------------------------------------

def burst_between_samples(logged_at=(0.3,), lost_step=100):
    """A window whose samples never caught the top of a burst (peak 46 of 64)
    while records were lost; at `logged_at` the kernel log named the limit."""
    return [replace(s, status=replace(s.status, backlog=46 if i == 3 else 5,
                                      lost=lost_step * i))
            for i, s in enumerate(losing(1.0, logged_at=logged_at))]


def test_a_burst_the_samples_missed_is_critical_when_the_kernel_logged_the_limit():
    backlog = findings(burst_between_samples())["backlog-high"]
    assert backlog.severity == "critical"
    assert "peaked at 46 of the limit 64 (72%)" in backlog.detail
    assert ('the kernel logged "backlog limit exceeded" for the records this window lost, '
            "so between two samples it reached its limit") in backlog.detail
    assert backlog.remedy is not None and backlog.remedy.startswith("auditctl -b ")


def test_without_the_kernels_word_a_sampled_72_percent_stays_a_warning():
    assert findings(burst_between_samples(logged_at=()))["backlog-high"].severity == "warning"
    # and a cause logged while nothing was lost is no proof either
    quiet = findings(burst_between_samples(lost_step=0))["backlog-high"]
    assert quiet.severity == "warning" and "between two samples" not in quiet.detail


def test_even_a_low_sampled_peak_is_critical_when_the_kernel_logged_the_limit():
    samples = [replace(s, status=replace(s.status, backlog=2)) for s in losing(1.0)]
    backlog = findings(samples).get("backlog-high")
    assert backlog is not None and backlog.severity == "critical"
    assert "peaked at 2 of the limit 64 (3%)" in backlog.detail


# --- the remedy follows the cause the kernel logged ----------------------------------

def losing_to(cause, seconds=3.0, *, system=HEALTHY_SYSTEM, backlog=0, **status):
    """Ten samples a second losing 5000 records each (backlog `backlog`);
    the kernel named `cause` once, at 0.3 s."""
    out = []
    for i in range(round(seconds * 10)):
        t = i / 10
        sample = make_sample(t, lost=5000 * i, backlog=backlog, backlog_limit=64,
                             system=system, **status)
        if abs(t - 0.3) < 1e-9:
            sample = replace(sample, loss_causes=((cause, 1),))
        out.append(sample)
    return out


def test_records_lost_to_the_rate_limit_get_a_rate_limit_remedy_not_a_huge_backlog():
    """Before: `auditctl -b 524288   # peak 0 + 522624 lost` for records the
    kernel lost to rate_limit 50."""
    result = findings(losing_to("rate-limit", rate_limit=50))
    lost = result["lost-increasing"]
    assert "-b" not in lost.remedy and "backlog_limit" not in lost.remedy
    # 50 allowed + 50000/s lost: the rules make ~50050 records/s -> 65536
    assert lost.remedy.startswith("auditctl -r 65536   # rate_limit 50 + 50000/s lost")
    assert "the rules produce about 50050 records/s" in lost.detail
    assert "backlog-high" not in result  # the backlog was empty throughout


def test_a_rate_limit_lifted_since_the_losses_gets_no_remedy():
    lost = findings(losing_to("rate-limit", rate_limit=0))["lost-increasing"]
    assert lost.remedy is None and "rate_limit 0" in lost.detail


@pytest.mark.parametrize("cause", ["retry-queue", "hold-queue", "printk-limit", "auditd-gone"])
def test_queues_behind_a_stopped_auditd_say_resume_it(cause):
    stopped = replace(HEALTHY_SYSTEM, auditd=replace(HEALTHY_SYSTEM.auditd, state="T"))
    lost = findings(losing_to(cause, system=stopped, backlog=65))["lost-increasing"]
    assert lost.remedy == f"kill -CONT {HEALTHY_SYSTEM.auditd.pid}"
    assert "is stopped (state T)" in lost.detail and "no backlog_limit holds that" in lost.detail


def test_printk_limit_without_auditd_says_start_it():
    lost = findings(losing_to("printk-limit", pid=0))["lost-increasing"]
    assert lost.remedy.startswith("systemctl start auditd")
    assert "no auditd is registered" in lost.detail


def test_auditd_waiting_on_disk_is_named_without_a_limit():
    on_disk = replace(HEALTHY_SYSTEM, auditd=replace(HEALTHY_SYSTEM.auditd, state="D"))
    lost = findings(losing_to("retry-queue", system=on_disk, backlog=65))["lost-increasing"]
    assert lost.remedy is None
    assert "waiting on its disk (state D)" in lost.detail


def test_out_of_memory_is_no_reason_for_a_larger_backlog():
    lost = findings(losing_to("out-of-memory", backlog=10))["lost-increasing"]
    assert lost.remedy is None and "short of memory" in lost.detail


@pytest.mark.parametrize(("audit", "says"), [
    (None, "Booted without audit=1, this kernel then prints it to its log"),
    ("0", "Booted without audit=1, this kernel then prints it to its log"),
    ("1", "Booted with audit=1, this kernel then keeps it on its hold queue"),
])
def test_what_happens_to_records_auditd_cannot_take_depends_on_audit_at_boot(audit, says):
    system = replace(HEALTHY_SYSTEM, boot=replace(HEALTHY_SYSTEM.boot, audit=audit))
    samples = [replace(make_sample(t / 10, drops=10 * t, system=system),
                       records_printed=3 if t == 10 else 0) for t in range(11)]
    drops = findings(samples)["netlink-drops"]
    assert says in drops.detail
    assert "not lost by themselves" not in drops.detail
    # kauditd_hold_skb prints the record first, whatever audit= says
    assert "This window, 3 records were printed to the kernel log." in drops.detail


def test_the_memory_estimate_counts_every_queue_backlog_limit_caps():
    from auditop.core.memory import describe_backlog_memory, queues_capped
    assert queues_capped(None) == 2 and queues_capped("1") == 3
    assert describe_backlog_memory(8192, 2).endswith(
        "; with the retry queue full too, ~36.0 MiB (up to 260.0 MiB)")
    assert "retry and hold queues" in describe_backlog_memory(8192, 3)


def test_no_cause_named_with_a_rate_limit_set_and_an_empty_backlog_suggests_no_limit():
    """printk's budget is kernel-wide: a flood at rate_limit 50 may name no
    cause at all; a backlog_limit from 'peak 0 + N lost' would be the old bug."""
    samples = [make_sample(t / 10, lost=5000 * t, backlog=0, backlog_limit=64, rate_limit=50)
               for t in range(30)]
    lost = findings(samples)["lost-increasing"]
    assert lost.remedy is None and "rate_limit is 50 records/s" in lost.detail
