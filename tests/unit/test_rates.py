"""A nonzero rate is never written as 0: lost records at 0.4/s are "0.4/s"
in `auditop status`, in the findings and wherever a rate is written."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditop.core.findings import evaluate
from auditop.core.history import History
from auditop.core.text import rate_number, seconds_text, wait_rate_text
from auditop.export.text import status_text
from tests.unit.builders import HEALTHY_SYSTEM, make_sample


@pytest.mark.parametrize("value, text", [
    (0.0, "0"), (0.004, "<0.01"), (0.01, "0.01"), (0.04, "0.04"), (0.099, "0.10"),
    (0.4, "0.4"), (2.5, "2.5"), (9.96, "10.0"), (12.4, "12"), (123456.7, "123457"),
])
def test_rate_number(value, text):
    assert rate_number(value) == text


@pytest.mark.parametrize("value", [1e-9, 0.0049, 0.04, 0.4, 0.96, 9.5, 1e6])
def test_rate_number_never_writes_a_nonzero_rate_as_zero(value):
    assert rate_number(value).lstrip("<").strip("0.") != ""


def test_durations_below_half_a_millisecond_are_not_zero():
    assert [seconds_text(s) for s in (0.0004, 0.00004, 0.000001, 0.0006)] == [
        "0.4 ms", "0.04 ms", "<0.01 ms", "1 ms"]
    assert wait_rate_text(0.1, 250) == "0.4 ms asleep per second"
    assert wait_rate_text(0.4, None) == "0.4 jiffies per second (HZ unknown)"


def slow_window():
    """4 records lost, 2 netlink drops and 1 jiffy waited over 10 s."""
    system = replace(HEALTHY_SYSTEM, hz=250)
    history = History(interval=60.0)
    history.add(make_sample(0.0, lost=0, drops=0, backlog_wait_time_actual=0, system=system))
    history.add(make_sample(10.0, lost=4, drops=2, backlog_wait_time_actual=1, system=system))
    return history, history.flush()


def test_status_writes_slow_rates_as_they_are():
    _, window = slow_window()
    assert window.lost_per_s == pytest.approx(0.4)
    text = status_text(window, [])
    assert "lost        4 total, 0.4/s over 10 s" in text
    assert "drops 2 (0.2/s)" in text
    assert "(0.4 ms asleep per second)" in text
    assert "0/s" not in text


def test_the_wait_finding_writes_a_slow_rate_as_it_is():
    history, _ = slow_window()
    (finding,) = [f for f in evaluate(history) if f.id == "backlog-wait"]
    assert "0.4 ms asleep per second (0.1 jiffies per second)" in finding.detail


def test_chart_labels_never_write_a_nonzero_rate_as_zero():
    from auditop.core.text import short_number as compact
    assert compact(0.04) == "0.04" and compact(0.4) == "0.4" and compact(0) == "0"
    assert compact(1600) == "1.6k"


def test_check_perfdata_keeps_a_slow_loss():
    from dataclasses import replace

    from auditop.core.history import History
    from auditop.export.check import perfdata
    from tests.unit.builders import feed, make_sample
    history = History(interval=1.0)
    windows = feed(history, [make_sample(t / 10, lost=0 if t < 5 else 1) for t in range(11)])
    window = replace(windows[-1], lost_per_s=0.04)
    from auditop.core.findings import DEFAULT
    assert "lost_per_s=0.04;;0" in perfdata(window, DEFAULT)
