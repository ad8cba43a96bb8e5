from dataclasses import replace

import pytest

from auditop.core.findings import DEFAULT, SEVERITY_ORDER, Thresholds, evaluate
from auditop.core.history import History
from auditop.core.model import AuditdProcess, AuditStatus, BootParams, SystemInfo
from tests.unit.builders import (
    AUDITD_PID,
    HEALTHY_CONFIG,
    HEALTHY_SYSTEM,
    feed,
    make_sample,
    silent_sample,
    with_buffers,
)

MiB = 1024 * 1024


def findings(samples, thresholds=DEFAULT):
    """The findings after `samples`, their window closed, by id."""
    history = History(interval=1.0)
    feed(history, samples)
    history.flush()
    return {f.id: f for f in evaluate(history, thresholds)}


def steady(system=HEALTHY_SYSTEM, **status_fields):
    return [make_sample(t, system=system, **status_fields) for t in (0.0, 0.5)]


def with_system(**changes):
    return steady(system=replace(HEALTHY_SYSTEM, **changes))


def with_config(**changes):
    return with_system(config=replace(HEALTHY_CONFIG, **changes))


def growing(field, step):
    """Ten samples in one window, status `field` growing by `step` each."""
    return [make_sample(i / 10, **{field: step * i}) for i in range(10)]


def with_boot(audit_backlog_limit):
    return replace(HEALTHY_SYSTEM, boot=BootParams(audit_backlog_limit=audit_backlog_limit))


def stopped_auditd(state):
    return replace(HEALTHY_SYSTEM.auditd, state=state)


def test_a_healthy_system_has_no_findings():
    assert findings(steady()) == {}


def test_an_empty_history_has_no_findings():
    assert evaluate(History()) == []


def drops_growing(step):
    return [make_sample(i / 10, drops=step * i) for i in range(10)]


PLUGIN = ("af_unix",)

# finding id -> (case name, samples, expected severity)
PRESENT = {
    "failure-panic": [("panic", steady(failure=2), "critical")],
    "rmem-default-small": [
        ("212992", steady(system=with_buffers(212992, 212992)), "warning"),
        ("restart-needed", steady(system=with_buffers(8 * MiB, 212992)), "warning"),
        ("sock-diag-unknown", steady(system=with_buffers(212992, None)), "warning"),
    ],
    "lost-increasing": [("growing", growing("lost", 1), "critical")],
    "backlog-high": [
        ("50%", steady(backlog=4096), "warning"),
        ("80%", steady(backlog=6554), "critical"),
        ("over-limit", steady(backlog=9000), "critical"),
    ],
    "backlog-limit-small": [("320", steady(backlog_limit=320), "warning")],
    "backlog-limit-boot-mismatch": [
        ("boot-higher", steady(backlog_limit=320, system=with_boot(8192)), "warning"),
        ("boot-unlimited", steady(system=with_boot(0)), "warning"),
        ("boot-lower", steady(backlog_limit=16384, system=with_boot(8192)), "info"),
        ("running-unlimited", steady(backlog_limit=0, system=with_boot(8192)), "info"),
    ],
    "auditd-not-running": [
        ("enabled", steady(pid=0), "critical"),
        ("locked", steady(pid=0, enabled=2), "critical"),
    ],
    "auditd-stopped": [
        ("T", with_system(auditd=stopped_auditd("T")), "critical"),
        ("t", with_system(auditd=stopped_auditd("t")), "critical"),
    ],
    "netlink-drops": [("growing", drops_growing(3), "warning")],
    "backlog-wait": [
        ("waiting", growing("backlog_wait_time_actual", 500), "warning"),
        ("and-lost", [make_sample(i / 10, backlog_wait_time_actual=500 * i, lost=i)
                      for i in range(10)], "critical"),
    ],
    "kernel-not-answering": [("silent", [make_sample(0.0), silent_sample(3.0)], "warning")],
    "audit-locked": [("enabled-2", steady(enabled=2), "warning")],
    "audit-disabled": [("enabled-0", steady(enabled=0), "info")],
    "flush-sync": [
        ("data", with_config(flush="data"), "warning"),
        ("sync", with_config(flush="sync"), "warning"),
    ],
    "log-format-enriched": [
        ("enriched", with_config(log_format="enriched"), "info"),
        ("upper-case", with_config(log_format="ENRICHED"), "info"),
    ],
    "q-depth-small": [
        ("below-512", with_config(q_depth=100), "warning"),
        ("below-backlog", with_config(q_depth=2000, active_plugins=PLUGIN), "info"),
    ],
    "overflow-action": [
        ("ignore", with_config(overflow_action="ignore"), "info"),
        ("suspend", with_config(overflow_action="suspend"), "warning"),
        ("single", with_config(overflow_action="single"), "warning"),
        ("halt", with_config(overflow_action="halt"), "warning"),
    ],
    "rate-limit": [("100", steady(rate_limit=100), "info")],
}


@pytest.mark.parametrize("samples, finding_id, severity", [
    pytest.param(samples, finding_id, severity, id=f"{finding_id}:{name}")
    for finding_id, cases in PRESENT.items() for name, samples, severity in cases
])
def test_finding_present(samples, finding_id, severity):
    found = findings(samples)
    assert finding_id in found, sorted(found)
    finding = found[finding_id]
    assert finding.severity == severity
    assert finding.title and len(finding.title) < 60
    assert len(finding.detail) > len(finding.title)


# finding id -> (case name, samples)
ABSENT = {
    "failure-panic": [("printk", steady(failure=1)), ("absent", steady(failure=None))],
    "rmem-default-small": [
        ("8MiB", with_system(rmem_default=8 * MiB)),
        ("unknown", with_system(rmem_default=None)),
        # The socket auditd has is what counts: big, though the default is small now.
        ("socket-big", steady(system=with_buffers(212992, 8 * MiB))),
        ("both-unknown", steady(system=with_buffers(None, None))),
    ],
    "lost-increasing": [
        ("steady", steady(lost=1234)),
        ("first-reading", [make_sample(0.0, lost=9)]),
    ],
    "backlog-high": [
        ("below-50%", steady(backlog=4095)),
        ("unlimited", steady(backlog=100_000, backlog_limit=0)),
        ("absent", steady(backlog=None)),
    ],
    "backlog-limit-small": [
        ("8192", steady(backlog_limit=8192)),
        ("unlimited", steady(backlog_limit=0)),
        ("absent", steady(backlog_limit=None)),
    ],
    "backlog-limit-boot-mismatch": [
        ("equal", steady(system=with_boot(8192))),
        ("no-boot-param", steady(backlog_limit=320)),
    ],
    "auditd-not-running": [
        ("audit-off", steady(enabled=0, pid=0)),
        ("registered", steady(pid=AUDITD_PID)),
    ],
    "auditd-stopped": [
        ("unknown", with_system(auditd=None)),
        ("disk-wait", with_system(auditd=stopped_auditd("D"))),
    ],
    "netlink-drops": [
        ("steady", drops_growing(0)),
        ("no-socket", with_system(auditd_socket=None)),
    ],
    "backlog-wait": [
        ("steady", steady(backlog_wait_time_actual=90)),
        ("absent", steady(backlog_wait_time_actual=None)),
    ],
    "kernel-not-answering": [
        ("answering-again", [silent_sample(0.0), make_sample(3.0)]),
        ("no-error", [make_sample(0.0), make_sample(3.0, status=None)]),
    ],
    "audit-locked": [("enabled-1", steady(enabled=1))],
    "audit-disabled": [("enabled-1", steady(enabled=1)), ("absent", steady(enabled=None))],
    "flush-sync": [
        ("async", with_config(flush="incremental_async")),
        ("unset", with_config(flush=None)),
    ],
    "log-format-enriched": [("raw", with_config(log_format="raw"))],
    "q-depth-small": [
        ("no-plugins", with_config(q_depth=2000)),
        ("big", with_config(q_depth=9000, active_plugins=PLUGIN)),
        ("unset", with_config(q_depth=None)),
        ("unlimited-backlog", steady(backlog_limit=0, system=replace(
            HEALTHY_SYSTEM, config=replace(HEALTHY_CONFIG, active_plugins=PLUGIN)))),
    ],
    "overflow-action": [
        ("syslog", with_config(overflow_action="syslog")),
        ("unset", with_config(overflow_action=None)),
    ],
    "rate-limit": [("zero", steady(rate_limit=0)), ("absent", steady(rate_limit=None))],
}


@pytest.mark.parametrize("samples, finding_id", [
    pytest.param(samples, finding_id, id=f"{finding_id}:{name}")
    for finding_id, cases in ABSENT.items() for name, samples in cases
])
def test_finding_absent(samples, finding_id):
    assert finding_id not in findings(samples)


def test_every_finding_is_tested_present_and_absent():
    assert set(PRESENT) == set(ABSENT)


# --- what the words say ------------------------------------------------------

def test_failure_panic_says_how_close_the_backlog_is():
    finding = findings(steady(failure=2, backlog=4096))["failure-panic"]
    assert "panic" in finding.detail
    assert "peaked at 4096 of the limit 8192 (50%)" in finding.detail


def test_failure_panic_before_any_window_uses_the_current_backlog():
    history = History()
    history.add(make_sample(0.0, failure=2, backlog=2048))
    finding = {f.id: f for f in evaluate(history)}["failure-panic"]
    assert "is at 2048 of the limit 8192 (25%)" in finding.detail


def test_rmem_default_small_explains_and_persists():
    system = with_buffers(212992, 212992, rmem_max=8 * MiB)
    finding = findings(steady(system=system))["rmem-default-small"]
    assert finding.remedy == ("sysctl -w net.core.rmem_default=8388608 && "
                              "systemctl restart auditd")
    assert "No buffer space available" in finding.detail
    assert "212992" in finding.detail
    assert "echo 'net.core.rmem_default = 8388608' > /etc/sysctl.d/60-auditd.conf" in finding.detail
    assert "rmem_max" not in finding.detail


def test_rmem_default_small_mentions_a_small_rmem_max():
    system = with_buffers(212992, 212992, rmem_max=212992)
    finding = findings(steady(system=system))["rmem-default-small"]
    assert "rmem_max" in finding.detail and "SO_RCVBUF" in finding.detail


def test_lost_increasing_gives_the_numbers():
    finding = findings(growing("lost", 2))["lost-increasing"]
    assert "dropped 18 audit records in the last 0.9 s (20/s)" in finding.detail
    assert "counter is now 18" in finding.detail


def test_backlog_high_gives_peak_and_percent():
    samples = [make_sample(t, backlog=b) for t, b in [(0.0, 10), (0.2, 7000), (0.5, 5)]]
    finding = findings(samples)["backlog-high"]
    assert "peaked at 7000 of the limit 8192 (85%)" in finding.detail


def test_backlog_high_adds_the_forecast_when_rising():
    history = History(interval=1.0)
    peaks = [1000, 2000, 3000, 4500, 5000]
    feed(history, [make_sample(float(t), backlog=b) for t, b in enumerate(peaks)])
    history.flush()
    finding = {f.id: f for f in evaluate(history)}["backlog-high"]
    assert "reaches the limit in about" in finding.detail


def test_backlog_limit_small_remedy_and_persistence():
    finding = findings(steady(backlog_limit=320))["backlog-limit-small"]
    assert finding.remedy == "auditctl -b 8192"
    assert "-b 8192" in finding.detail and "/etc/audit/rules.d/" in finding.detail
    assert "audit_backlog_limit=8192" in finding.detail


def test_boot_mismatch_remedy_restores_the_boot_value_when_lower():
    samples = steady(backlog_limit=320, system=with_boot(8192))
    finding = findings(samples)["backlog-limit-boot-mismatch"]
    assert finding.remedy == "auditctl -b 8192"
    assert "audit_backlog_limit=8192" in finding.detail and "320" in finding.detail


def test_auditd_not_running_explains_where_records_go():
    finding = findings(steady(pid=0))["auditd-not-running"]
    assert "kernel log" in finding.detail and "hold queue" in finding.detail
    assert finding.remedy == "systemctl start auditd"


def test_auditd_stopped_remedy_continues_it():
    finding = findings(with_system(auditd=stopped_auditd("T")))["auditd-stopped"]
    assert finding.remedy == f"kill -CONT {AUDITD_PID}"


def test_netlink_drops_explain_the_retry_queue_and_the_socket_buffer():
    small = with_buffers(212992, 212992)
    samples = [make_sample(i / 10, drops=i, system=small) for i in range(10)]
    finding = findings(samples)["netlink-drops"]
    assert "retry queue" in finding.detail
    assert "auditd's socket has 212992 bytes (208 KiB)" in finding.detail
    assert "10 times per second" in finding.detail
    assert finding.remedy == ("sysctl -w net.core.rmem_default=8388608 && "
                              "systemctl restart auditd")
    unknown = with_buffers(212992, None)
    samples = [make_sample(i / 10, drops=i, system=unknown) for i in range(10)]
    finding = findings(samples)["netlink-drops"]
    assert "net.core.rmem_default is 212992 bytes" in finding.detail
    assert finding.remedy == "sysctl -w net.core.rmem_default=8388608"
    big = [make_sample(i / 10, drops=i) for i in range(10)]
    assert findings(big)["netlink-drops"].remedy is None


def test_kernel_not_answering_says_for_how_long():
    samples = [make_sample(0.0), silent_sample(1.0), silent_sample(12.4, "no answer for 2.0 s")]
    finding = findings(samples)["kernel-not-answering"]
    assert finding.title == "Kernel not answering for 12 s"
    assert "no answer for 2.0 s" in finding.detail


def test_config_findings_name_the_file():
    assert "/etc/audit/auditd.conf" in findings(with_config(flush="sync"))["flush-sync"].detail


def test_rate_limit_mentions_the_lost_message():
    finding = findings(steady(rate_limit=100))["rate-limit"]
    assert "100" in finding.detail and "rate limit exceeded" in finding.detail


# --- robustness, order, thresholds --------------------------------------------

def test_absent_fields_and_missing_system_info_raise_nothing():
    bare = [make_sample(t, status=AuditStatus(), system=SystemInfo()) for t in (0.0, 0.5)]
    assert findings(bare) == {}
    never_answered = [silent_sample(t) for t in (0.0, 0.5)]
    assert set(findings(never_answered)) == {"kernel-not-answering"}


def test_sorted_by_severity_then_id():
    system = with_buffers(212992, 212992,
                          config=replace(HEALTHY_CONFIG, log_format="enriched", flush="sync"))
    history = History()
    feed(history, [make_sample(i / 10, lost=i, failure=2, rate_limit=50, system=system)
                   for i in range(10)])
    history.flush()
    result = evaluate(history)
    keys = [(SEVERITY_ORDER[f.severity], f.id) for f in result]
    assert keys == sorted(keys)
    assert [f.id for f in result] == [
        "failure-panic", "lost-increasing",
        "flush-sync", "rmem-default-small",
        "log-format-enriched", "rate-limit",
    ]


def test_thresholds_are_configurable():
    strict = Thresholds(backlog_limit=16384, rmem_default=16 * MiB, backlog_warning=0.1,
                        q_depth=4000)
    found = findings(steady(backlog=1000), strict)
    assert found["backlog-limit-small"].remedy == "auditctl -b 16384"
    assert found["rmem-default-small"].remedy == ("sysctl -w net.core.rmem_default=16777216 && "
                                                  "systemctl restart auditd")
    assert found["backlog-high"].severity == "warning"
    assert found["q-depth-small"].severity == "warning"


def test_findings_are_serialisable():
    for finding in findings(steady(pid=0, failure=2)).values():
        assert set(finding.as_dict()) == {"id", "severity", "title", "detail", "remedy"}


def test_an_auditd_process_without_start_time_is_fine():
    auditd = AuditdProcess(pid=1, name="auditd", state="T", start_time=None)
    assert "auditd-stopped" in findings(with_system(auditd=auditd))


def test_auditd_that_died_while_the_kernel_still_names_it():
    from dataclasses import replace as _replace
    from tests.unit.builders import HEALTHY_SYSTEM
    history = History()
    for step in range(12):
        history.add(make_sample(step * 0.1, system=_replace(HEALTHY_SYSTEM, auditd=None)))
    found = {f.id: f for f in evaluate(history)}
    assert "auditd-not-running" in found
    assert "no such process" in found["auditd-not-running"].detail
