"""Drift watch: settings changed underneath auditop, told apart from its own
changes, named by auditd's CONFIG_CHANGE records, kept for a while."""

from __future__ import annotations

import time
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from auditop.core.drift import (DEMO_ACTOR, KEEP_SECONDS, OWN_CHANGE_SECONDS, WATCHED,
                                DriftWatch, SettingChange, actor_details, actor_text,
                                changed_fields, now_critical)
from auditop.core.findings.settings import change_text
from auditop.core.findings import evaluate
from auditop.core.history import History
from auditop.core.model import AuditdLogReading, AuditStatus, ConfigChangeRecord, Sample, SystemInfo
from auditop.core.monitor import Monitor
from auditop.sources.scripted import HEALTHY_STATUS, HEALTHY_SYSTEM, ScriptedSource

T0 = 1_800_000_000.0
LOG = "/var/log/audit/audit.log"
BY_AUDITCTL = ConfigChangeRecord(
    time=T0 + 1.02, serial=61766, field="backlog_limit", new=100, old=8192, res=1,
    auid=4294967295, ses=4294967295, pid=14356, ppid=14177, uid=0, comm="auditctl",
    exe="/usr/sbin/auditctl", command="auditctl -b 100")


def sample(step: int, status: AuditStatus | None = HEALTHY_STATUS,
           system: SystemInfo | None = HEALTHY_SYSTEM, **changes: int) -> Sample:
    if status is not None and changes:
        status = replace(status, **changes)
    return Sample(time=T0 + step * 0.1, mono=step * 0.1, status=status, system=system)


def with_records(*records: ConfigChangeRecord, unavailable: str | None = None) -> SystemInfo:
    return replace(HEALTHY_SYSTEM,
                   auditd_log=AuditdLogReading(LOG, unavailable, tuple(records)))


def finding(history: History):
    return next((f for f in evaluate(history) if f.id == "setting-changed"), None)


# ------------------------------------------------------------------ detection

def test_a_change_between_two_answered_samples_is_flagged():
    history = History()
    history.add(sample(0, system=with_records()))
    history.add(sample(1, system=with_records(), backlog_limit=100))
    (change,) = history.drift.changes
    assert (change.field, change.old, change.new) == ("backlog_limit", 8192, 100)
    assert change.after == T0 and change.time == T0 + 0.1 and change.by is None
    found = finding(history)
    assert found.severity == "warning"
    assert found.title == "backlog_limit changed underneath auditop: 8192 -> 100"
    clock = time.strftime("%H:%M:%S", time.localtime(T0))
    assert (f"went from 8192 to 100 at {clock}; who did it is unknown: no CONFIG_CHANGE "
            f"record for it in auditd's log {LOG} yet") in found.detail


def test_nothing_changed_nothing_flagged():
    history = History()
    for step in range(30):
        history.add(sample(step, backlog=step))  # the backlog is no setting
    assert not history.drift.changes and finding(history) is None


def test_silence_in_between_is_compared_across():
    history = History()
    history.add(sample(0))
    history.add(sample(1, status=None, system=None))
    history.add(sample(2, rate_limit=5))
    (change,) = history.drift.changes
    assert change.field == "rate_limit" and change.after == T0


def test_fields_the_kernel_did_not_send_are_not_changes():
    old = replace(HEALTHY_STATUS, backlog_wait_time=None)
    assert changed_fields(old, HEALTHY_STATUS) == []


def test_failure_2_and_enabled_2_are_critical():
    for field in ("failure", "enabled"):
        history = History()
        history.add(sample(0))
        history.add(sample(1, **{field: 2}))
        found = finding(history)
        assert found.severity == "critical", field
    assert "panics the machine" in finding(_changed(failure=2)).detail
    assert "locked now (enabled 2)" in finding(_changed(enabled=2)).detail
    assert finding(_changed(failure=0)).severity == "warning"


def test_a_setting_changed_back_is_described_as_it_is_now():
    """failure 1 -> 2 -> 0 -> 1: history lists every change, but what is
    said of the present (and the severity) is failure 1."""
    history = History()
    history.add(sample(0))
    for step, value in ((1, 2), (2, 0), (3, 1)):
        history.add(sample(step, failure=value))
    found = finding(history)
    assert found.severity == "warning"
    assert found.title == "3 audit setting changes underneath auditop: now failure 1"
    assert "Now: failure 1 (printk)." in found.detail
    assert "went from 1 to 2" in found.detail  # the history is still told
    assert "panics the machine" not in found.detail
    changes = history.setting_changes()
    assert [c.critical for c in changes] == [True, False, False]  # history: it became 2 once
    assert now_critical(changes, history.last_answered.status) == []


def test_a_change_is_critical_while_its_value_is_2():
    history = History()
    history.add(sample(0))
    history.add(sample(1, failure=2))
    history.add(sample(2, failure=2, backlog_limit=100))
    found = finding(history)
    assert found.severity == "critical"
    assert "failure is 2 now: the first record the kernel loses panics" in found.detail
    assert now_critical(history.setting_changes(), history.last_answered.status) == ["failure"]


def test_a_change_says_what_the_setting_is_now_when_it_changed_since():
    """Someone set 8192 -> 100, then auditop's own change made it 200: the
    change is history, the value beside it is 200."""
    history = History()
    history.add(sample(0))
    history.add(sample(1, backlog_limit=100))
    history.drift.expect("backlog_limit", 0.15)
    history.add(sample(2, backlog_limit=200))
    (change,) = history.setting_changes()
    status = history.last_answered.status
    assert found_title(history) == "backlog_limit changed underneath auditop: 8192 -> 100, now 200"
    assert change_text(change, when=False, status=status).endswith(
        "8192 -> 100 at " + time.strftime("%H:%M:%S", time.localtime(T0 + 0.1))
        + ", not by auditop, now 200")
    assert ", now" not in change_text(change)  # no status given: nothing said of now


def found_title(history: History) -> str:
    return finding(history).title


def test_the_demos_changes_are_named_as_the_demos():
    record = ConfigChangeRecord(time=T0 + 0.05, serial=1, field="failure", new=2, old=1, res=1,
                                comm=DEMO_ACTOR)
    history = History()
    history.add(sample(0))
    history.add(sample(1, system=with_records(record), failure=2))
    found = finding(history)
    assert found.title == "failure changed underneath auditop: 1 -> 2 by the demo"
    assert "set by the demo, according to the simulated auditd's log" in found.detail
    assert "The demo made this change on its simulated machine" in found.detail
    assert "auditop did not make" not in found.detail
    assert actor_details(record) == "the demo"  # no pid, no login session: none invented


def _changed(**fields: int) -> History:
    history = History()
    history.add(sample(0))
    history.add(sample(1, **fields))
    return history


def test_several_changes_in_one_finding():
    history = History()
    history.add(sample(0))
    history.add(sample(1, backlog_limit=100, rate_limit=5))
    history.add(sample(2, backlog_limit=100, rate_limit=5, failure=2))
    found = finding(history)
    assert found.title == ("3 audit setting changes underneath auditop: now backlog_limit 100, "
                           "rate_limit 5, failure 2")
    assert found.severity == "critical"
    assert found.detail.count("went from") == 3


# ------------------------------------------------------------------ who did it

def test_a_record_read_after_the_change_names_who_did_it():
    history = History()
    history.add(sample(0))
    history.add(sample(10, backlog_limit=100))
    history.add(sample(15, system=with_records(BY_AUDITCTL), backlog_limit=100))
    (change,) = history.drift.changes
    assert change.by == BY_AUDITCTL
    found = finding(history)
    assert found.title == ("backlog_limit changed underneath auditop: 8192 -> 100 "
                           "by auditctl (pid 14356, auid unset)")
    assert "pid 14356, ppid 14177, uid 0, auid unset, session unset, exe /usr/sbin/auditctl" \
        in found.detail
    assert "command line `auditctl -b 100`" in found.detail
    assert found.remedy == "ausearch -m CONFIG_CHANGE -i -ts recent"


def test_a_record_read_before_the_change_is_seen_is_matched_too():
    history = History()
    history.add(sample(0))
    history.add(sample(9, system=with_records(BY_AUDITCTL)))
    history.add(sample(11, backlog_limit=100))
    assert history.drift.changes[0].by == BY_AUDITCTL


def test_a_record_is_taken_once_though_the_reading_is_reused():
    history = History()
    system = with_records(BY_AUDITCTL)
    history.add(sample(0, system=system))
    history.add(sample(1, system=system))
    history.add(sample(2, system=replace(system, read_at=5.0)))  # a new reading, same record
    history.add(sample(10, backlog_limit=100))
    history.add(sample(11, backlog_limit=8192))  # and back: not the same change
    first, second = history.drift.changes
    assert first.by == BY_AUDITCTL and second.by is None


def test_records_that_do_not_describe_the_change_are_not_matched():
    wrong = [replace(BY_AUDITCTL, new=200), replace(BY_AUDITCTL, field="rate_limit"),
             replace(BY_AUDITCTL, time=T0 - 60), replace(BY_AUDITCTL, res=0)]
    for record in wrong:
        history = History()
        history.add(sample(0, system=with_records(record)))
        history.add(sample(10, backlog_limit=100))
        assert history.drift.changes[0].by is None, record


def test_an_unreadable_log_says_why_nobody_is_named():
    history = History()
    unreadable = with_records(unavailable="cannot read auditd's log (x)")
    history.add(sample(0, system=unreadable))
    history.add(sample(1, system=unreadable, backlog_limit=100))
    assert "who did it is unknown: cannot read auditd's log (x)" in finding(history).detail


def test_no_record_while_audit_is_off():
    history = History()
    history.add(sample(0, enabled=0))
    history.add(sample(1, enabled=0, backlog_limit=100))
    assert "no CONFIG_CHANGE record while audit is off" in finding(history).detail


def test_actor_text_without_a_syscall_record():
    record = ConfigChangeRecord(time=T0, serial=1, field="rate_limit", new=1, old=0,
                                auid=1000, ses=3)
    assert actor_text(record) == "a process (auid 1000)"


# --------------------------------------------------------------- own changes

def test_own_change_is_not_drift():
    watch = DriftWatch()
    watch.observe(sample(0))
    watch.expect("backlog_limit", 0.05)
    watch.observe(sample(1, backlog_limit=100))
    assert not watch.changes and watch.own == 1
    watch.observe(sample(2, backlog_limit=200))  # the expectation was used up
    assert [c.new for c in watch.changes] == [200]


def test_an_expectation_lapses():
    watch = DriftWatch()
    watch.observe(sample(0))
    watch.expect("backlog_limit", 0.0)
    late = int(OWN_CHANGE_SECONDS * 10) + 20
    watch.observe(sample(late, backlog_limit=100))
    assert [c.new for c in watch.changes] == [100]


def test_settle_drops_an_expectation_that_saw_no_change():
    watch = DriftWatch()
    watch.observe(sample(0))
    watch.expect("backlog_limit", 0.0)
    watch.settle("backlog_limit")  # asked for the value it already had
    watch.observe(sample(1, backlog_limit=100))
    assert len(watch.changes) == 1


def test_expecting_one_field_does_not_hide_another():
    watch = DriftWatch()
    watch.observe(sample(0))
    watch.expect("backlog_limit", 0.0)
    watch.observe(sample(1, backlog_limit=100, rate_limit=7))
    assert [c.field for c in watch.changes] == ["rate_limit"]


_steps = st.lists(st.tuples(st.sampled_from(("own", "other", "none", "silence")),
                            st.sampled_from(WATCHED), st.integers(0, 3)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_steps)
def test_exactly_the_changes_auditop_did_not_make_are_flagged(steps):
    """Whatever the order of own changes, others' changes and silences, the
    flagged changes are exactly the others' that changed a value."""
    watch = DriftWatch()
    status = HEALTHY_STATUS
    watch.observe(sample(0, status=status))
    expected = []
    for i, (who, field, value) in enumerate(steps, start=1):
        if who == "silence":
            watch.observe(sample(i, status=None, system=None))
            continue
        new = replace(status, **{field: value}) if who != "none" else status
        if who == "own":
            watch.expect(field, i * 0.1 - 0.05)
        elif who == "other" and getattr(status, field) != value:
            expected.append((field, getattr(status, field), value))
        watch.observe(sample(i, status=new))
        if who == "own":
            watch.settle(field)  # the change path read it back
        status = new
    assert [(c.field, c.old, c.new) for c in watch.changes] == expected


# ------------------------------------------------------------------ kept

def test_kept_for_a_while_then_gone():
    history = History(interval=1.0)
    history.add(sample(0))
    history.add(sample(1, backlog_limit=100))
    steps = int(KEEP_SECONDS * 10)
    for step in range(2, steps + 30, 5):
        history.add(sample(step, backlog_limit=100))
        if step < steps - 5:
            assert finding(history) is not None, step
    assert finding(history) is None


def test_kept_until_its_window_closed_even_when_the_window_is_long():
    history = History(interval=KEEP_SECONDS * 2)
    history.add(sample(0))
    history.add(sample(1, backlog_limit=100))
    window, step = None, 1
    while window is None:
        step += 50
        window = history.add(sample(step, backlog_limit=100))  # closes the long window
    assert window.seconds > KEEP_SECONDS
    assert finding(history) is not None  # 600 s old, but in the window just closed


def test_kept_changes_reach_the_snapshot():
    monitor = Monitor(ScriptedSource([sample(0)]))
    snapshot = monitor.add([sample(0), sample(1, backlog_limit=100)])
    assert [type(c) for c in snapshot.setting_changes] == [SettingChange]
    assert "setting-changed" in {f.id for f in snapshot.findings}


# -------------------------------------------------------- through the Monitor

def test_the_monitors_change_path_is_not_flagged_but_anothers_is():
    from auditop.core.changes import Proposal

    source = ScriptedSource([sample(0)])
    monitor = Monitor(source, rate_hz=50.0)
    monitor.start()
    try:
        assert monitor.next_answer(0.0, 2.0) is not None
        outcome = monitor.change(Proposal("backlog_limit", 8192, 16384, "double"))
        assert outcome.new == 16384
        source.overrides["rate_limit"] = 9  # someone else, behind auditop's back
        deadline = 50
        while not monitor.snapshot().setting_changes and deadline:
            deadline -= 1
            time.sleep(0.05)
        changes = monitor.snapshot().setting_changes
    finally:
        monitor.stop()
    assert [(c.field, c.old, c.new) for c in changes] == [("rate_limit", 0, 9)]
    assert monitor.history.drift.own == 1
