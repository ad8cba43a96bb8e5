"""`auditop check`: live trouble sets the state, configuration risks are
named; --warn/--crit/--ok; perfdata in the monitoring-plugins syntax."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.cli import main
from auditop.core.findings import DEFAULT, FINDING_IDS, Finding, evaluate
from auditop.core.history import History
from auditop.export.check import (CRITICAL, LIVE, OK, WARNING, BadIds, check_line,
                                  overrides_from, parse_ids, perfdata, weigh)
from auditop.sources.scripted import SCENARIOS, samples
from tests.unit.builders import HEALTHY_CONFIG, HEALTHY_SYSTEM, feed, make_sample, with_buffers

# A stock Debian machine with auditd running: limit 64, 208 KiB buffers, the
# packaged auditd.conf (enriched), nothing happening.
STOCK = with_buffers(212992, 212992, rmem_max=212992,
                     config=replace(HEALTHY_CONFIG, log_format="ENRICHED"))


def checked(sample_list, overrides=None):
    history = History(interval=float("inf"))
    feed(history, sample_list)
    window = history.flush()
    return check_line(window, evaluate(history), DEFAULT, overrides), window


def idle(system=STOCK, **status):
    fields = dict(backlog_limit=64, backlog_wait_time=15000) | status
    return [make_sample(i / 10, system=system, **fields) for i in range(10)]


PERF = re.compile(r"^[a-z_]+=-?[0-9.]+(c|B)?(;[0-9.]*){0,4}$")


def test_an_idle_stock_machine_is_ok_and_its_risks_are_named():
    (state, line), _ = checked(idle())
    assert state == OK
    summary, perf = line.split(" | ")
    assert summary.startswith("AUDIT OK - audit backlog healthy; noted: ")
    for risk in ("backlog-limit-small", "rmem-default-small", "log-format-enriched"):
        assert risk in summary
    assert "auditd_rcvbuf=212992B;;;0" in perf and "backlog_limit=64" in perf
    assert "noted=3;;;0" in perf


def test_locked_and_synchronous_are_named_not_alerting():
    system = replace(STOCK, config=replace(STOCK.config, flush="sync"))
    (state, line), _ = checked(idle(system, enabled=2))
    assert state == OK and "audit-locked" in line and "flush-sync" in line


def test_a_fresh_machine_with_audit_off_is_ok():
    system = replace(STOCK, auditd=None, auditd_socket=None, config=None)
    (state, line), _ = checked(idle(system, enabled=0, pid=0))
    assert state == OK and "audit-disabled" in line


@pytest.mark.parametrize("scenario, state", [
    ("healthy", OK), ("overflow", CRITICAL), ("auditd-stopped", CRITICAL),
    ("auditd-not-running", CRITICAL), ("throttled", CRITICAL), ("disabled", OK),
    ("locked", OK), ("panic", WARNING),
])
def test_scripted_scenarios(scenario, state):
    (got, line), _ = checked(samples(scenario, 8.0))  # overflow floods from 5 s on
    assert got == state, line


def test_lost_rising_is_critical_and_named_first():
    lost = [make_sample(i / 10, system=STOCK, lost=i, backlog_limit=64) for i in range(10)]
    (state, line), _ = checked(lost)
    assert state == CRITICAL
    assert line.startswith("AUDIT CRITICAL - Audit records are being lost")


def test_a_slow_sender_on_an_idle_machine_stays_ok():
    slow = [replace(make_sample(i / 10, system=STOCK, backlog_limit=64), held_senders=1,
                    held_for=0.2) for i in range(10)]
    assert checked(slow)[0][0] == OK


def test_drops_and_throttling_are_warnings():
    drops = [make_sample(i / 10, drops=i) for i in range(10)]
    assert checked(drops)[0][0] == WARNING
    held = [replace(make_sample(i / 10, backlog=8193), held_senders=1, held_for=0.5)
            for i in range(10)]
    (state, line), _ = checked(held, {"backlog-high": "ok"})  # critical on its own
    assert state == WARNING and "Kernel is holding processes" in line


@pytest.mark.parametrize("backlog, state", [(100, WARNING), (4096, WARNING), (4097, CRITICAL)])
def test_failure_2_is_a_warning_and_critical_above_half_the_limit(backlog, state):
    (got, line), _ = checked(idle(HEALTHY_SYSTEM, failure=2, backlog=backlog,
                                  backlog_limit=8192))
    assert got == state, line


def test_backlog_high_weighs_by_its_severity():
    assert checked(idle(HEALTHY_SYSTEM, backlog=4200, backlog_limit=8192))[0][0] == WARNING
    assert checked(idle(HEALTHY_SYSTEM, backlog=7000, backlog_limit=8192))[0][0] == CRITICAL


def test_overrides_change_a_findings_weight():
    (state, line), _ = checked(idle(), {"backlog-limit-small": "warning"})
    assert state == WARNING and "Backlog limit is small" in line.split(" | ")[0]
    assert checked(idle(), {"rmem-default-small": "critical"})[0][0] == CRITICAL
    lost = [make_sample(i / 10, system=STOCK, lost=i, backlog_limit=64) for i in range(10)]
    (state, line), _ = checked(lost, {"lost-increasing": "ok", "backlog-high": "ok"})
    assert state == OK and "lost-increasing" in line


def test_every_finding_id_has_a_weight_and_live_ones_are_known():
    assert set(LIVE) <= set(FINDING_IDS)
    window = checked(idle())[1]
    for finding_id in FINDING_IDS:
        finding = Finding(finding_id, "warning", "t", "d")
        assert weigh(finding, window, DEFAULT) in (OK, WARNING, CRITICAL)


def test_every_scenario_finding_is_a_known_id():
    for name in SCENARIOS:
        history = History()
        feed(history, samples(name, 3.0))
        history.flush()
        assert {f.id for f in evaluate(history)} <= set(FINDING_IDS), name


def test_perfdata_follows_the_plugin_syntax():
    (_, line), window = checked(samples("overflow", 8.0))
    fields = perfdata(window, DEFAULT).split()
    assert all(PERF.match(field) for field in fields), fields
    names = {field.split("=")[0] for field in fields}
    assert {"lost", "backlog_peak", "netlink_drops", "auditd_rcvbuf", "rmem_default"} <= names
    assert re.search(r"\blost=\d+c\b", line) and re.search(r"\bnetlink_drops=\d+c\b", line)


# --- the id lists -------------------------------------------------------------------

ids = st.lists(st.sampled_from(FINDING_IDS), min_size=1, max_size=6)
spaces = st.sampled_from(["", " ", "  "])


@given(ids, spaces)
def test_known_ids_parse_in_order_without_repeats(chosen, pad):
    text = ",".join(f"{pad}{i}{pad}" for i in chosen)
    assert parse_ids(text) == tuple(dict.fromkeys(chosen))


@given(ids, st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20))
def test_any_unknown_id_is_refused(chosen, other):
    if other in FINDING_IDS:
        return
    with pytest.raises(BadIds, match="no finding has the id"):
        parse_ids(",".join([*chosen, other]))


@pytest.mark.parametrize("text", ["", ",", "rate-limit,", ",rate-limit", "rate-limit,,audit-locked"])
def test_empty_items_are_refused(text):
    with pytest.raises(BadIds, match="empty finding id"):
        parse_ids(text)


@given(ids, ids)
def test_one_id_two_weights_is_refused(warn, ok):
    if set(warn) & set(ok):
        with pytest.raises(BadIds, match="two weights"):
            overrides_from({"warning": warn, "ok": ok})
    else:
        weights = overrides_from({"warning": warn, "ok": ok})
        assert set(weights) == set(warn) | set(ok)


@pytest.mark.parametrize("argv, needle", [
    (["check", "--warn", "nope"], "no finding has the id 'nope'"),
    (["check", "--crit", "rate-limit,"], "empty finding id"),
    (["check", "--warn", "rate-limit", "--ok", "rate-limit"], "two weights"),
    (["check", "--ok"], "expected one argument"),
])
def test_bad_flags_are_unknown_with_exit_3(argv, needle, capsys):
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert out.startswith("AUDIT UNKNOWN - usage: ") and needle in out
    assert out.count("\n") == 1


def test_drift_and_auditd_state_weigh_as_documented():
    """A change seen in the window is a warning (critical for failure 2); a
    fresh report's filling queue a warning, suspended logging critical; the
    sticky overflow flag is only named."""
    from auditop.core.model import AuditdState
    changed = idle() + [make_sample(1.0 + i / 10, system=STOCK, backlog_limit=100,
                                    backlog_wait_time=15000) for i in range(3)]
    (state, line), _ = checked(changed)
    assert state == WARNING and "backlog_limit changed underneath auditop" in line
    panic = idle() + [make_sample(1.0, system=STOCK, backlog_limit=64,
                                  backlog_wait_time=15000, failure=2)]
    assert checked(panic)[0][0] == CRITICAL

    def with_state(**fields):
        now = make_sample(0.0, system=STOCK).time
        state = AuditdState(path="/run/audit/auditd.state", mtime=now, **fields)
        return idle(replace(STOCK, auditd_state=state))
    assert checked(with_state(plugin_queue_depth=1500, plugin_queue_size=2000))[0][0] == WARNING
    assert checked(with_state(logging_suspended=True))[0][0] == CRITICAL
    (state, line), _ = checked(with_state(plugin_queue_overflow=True))
    assert state == OK and "plugin-queue-overflow" in line
