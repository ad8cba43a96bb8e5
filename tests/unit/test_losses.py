"""Loss causes: ids and words, summed per window, carried over the kernel's
rate-limited silence; jiffies in seconds."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.history import History, recent_loss_causes
from auditop.core.losses import CAUSES, RECENT_SECONDS, add_causes, cause_label, causes_text
from auditop.core.text import jiffies_seconds, jiffies_text, seconds_text, wait_rate_text
from tests.unit.builders import feed, make_sample


def test_labels_are_the_kernels_words():
    assert cause_label("backlog-limit") == "backlog limit exceeded"
    assert cause_label("retry-queue") == "kauditd retry queue overflow"
    assert cause_label("something-new") == "something-new"


def test_add_causes_sums_and_orders_by_messages():
    assert add_causes([(("rate-limit", 1), ("backlog-limit", 2)), (("rate-limit", 3),)]) == (
        ("rate-limit", 4), ("backlog-limit", 2))
    assert add_causes([(("backlog-limit", 0),)]) == ()
    assert causes_text((("rate-limit", 4), ("backlog-limit", 2))) == (
        "rate limit exceeded, backlog limit exceeded")


@given(st.lists(st.lists(st.tuples(st.sampled_from(sorted(CAUSES)), st.integers(0, 10**6)),
                         max_size=5), max_size=8))
def test_add_causes_keeps_every_message(parts):
    total = add_causes(parts)
    assert sum(n for _, n in total) == sum(n for part in parts for _, n in part)
    assert [c for c, _ in total] == sorted({c for c, _ in total}, key=lambda c: (
        -dict(total)[c], c))


def test_windows_sum_the_causes_their_samples_carried():
    history = History(interval=1.0)
    samples = [make_sample(0.0), replace(make_sample(0.3), loss_causes=(("backlog-limit", 2),),
                                         loss_suppressed=500),
               replace(make_sample(0.6), loss_causes=(("backlog-limit", 1),
                                                      ("retry-queue", 1))),
               make_sample(1.0), make_sample(2.0)]
    first, second = feed(history, samples)
    assert first.loss_causes == (("backlog-limit", 3), ("retry-queue", 1))
    assert first.loss_suppressed == 500
    assert second.loss_causes == () and second.loss_suppressed == 0


def test_a_window_without_a_message_takes_the_cause_named_just_before():
    history = History(interval=1.0)
    logged = replace(make_sample(0.5, lost=10), loss_causes=(("backlog-limit", 2),))
    windows = feed(history, [make_sample(0.0, lost=0), logged]
                   + [make_sample(t, lost=10 * int(t)) for t in range(1, 14)])
    assert recent_loss_causes(windows, windows[0]) == ((("backlog-limit", 2),), 0.0)
    causes, ago = recent_loss_causes(windows, windows[4])
    assert causes == (("backlog-limit", 2),) and ago == pytest.approx(4.0)
    assert recent_loss_causes(windows, windows[-1]) == ((), 0.0)  # beyond RECENT_SECONDS
    assert windows[-1].end - windows[0].end > RECENT_SECONDS


@pytest.mark.parametrize("jiffies, hz, text", [
    (15000, 250, "15000 jiffies (60 s at HZ 250)"),
    (15000, 1000, "15000 jiffies (15 s at HZ 1000)"),
    (60000, 250, "60000 jiffies (240 s at HZ 250)"),
    (500, 250, "500 jiffies (2 s at HZ 250)"),
    (1, 250, "1 jiffy (4 ms at HZ 250)"),
    (150000, 250, "150000 jiffies (10 min at HZ 250)"),
    (15000, None, "15000 jiffies (HZ unknown)"),
    (None, 250, "?"),
])
def test_jiffies_text(jiffies, hz, text):
    assert jiffies_text(jiffies, hz) == text


def test_seconds_and_rates():
    assert jiffies_seconds(15000, 250) == 60.0
    assert jiffies_seconds(15000, 0) is None and jiffies_seconds(None, 250) is None
    assert [seconds_text(s) for s in (0.0, 0.04, 0.6, 2.5, 60.0, 7200.0)] == [
        "0 s", "40 ms", "0.6 s", "2.5 s", "60 s", "2.0 h"]
    assert wait_rate_text(500.0, 250) == "2 s asleep per second"
    assert wait_rate_text(150.0, None) == "150 jiffies per second (HZ unknown)"
    assert wait_rate_text(None, 250) == "?"
