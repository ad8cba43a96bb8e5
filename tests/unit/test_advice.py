"""The backlog_limit suggested from the worst overflow episode (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.advice import (MAX_RECORDS_UNKNOWN_MEMORY, power_of_two_above,
                                 suggest_backlog_limit)
from auditop.core.history import History
from auditop.core.memory import TYPICAL_RECORD_BYTES
from tests.unit.builders import make_sample

GiB = 1024**3


def windows(*spec):
    """One 1 s window per (backlog peak, records lost in it), oldest first."""
    history = History(interval=1.0)
    lost = 0
    for second, (peak, lost_in_it) in enumerate(spec):
        history.add(make_sample(second + 0.0, backlog=0, lost=lost, backlog_limit=64))
        lost += lost_in_it
        history.add(make_sample(second + 0.5, backlog=peak, lost=lost, backlog_limit=64))
    history.add(make_sample(len(spec) + 0.0, backlog=0, lost=lost, backlog_limit=64))
    return list(history.windows)


@pytest.mark.parametrize("need, current, expected", [
    (1, 0, 1), (65, 64, 128), (64, 64, 128), (129, 64, 256), (1000, 8192, 16384),
    (8192, 4096, 8192), (8193, 4096, 16384),
])
def test_power_of_two_above(need, current, expected):
    assert power_of_two_above(need, current) == expected


@given(need=st.integers(0, 2**31), current=st.integers(0, 2**31))
def test_power_of_two_above_is_the_smallest_that_holds_and_raises(need, current):
    limit = power_of_two_above(need, current)
    assert limit & (limit - 1) == 0
    assert limit >= need and limit > current
    assert limit == 1 or limit // 2 < max(need, current + 1)


def test_no_episode_no_advice():
    assert suggest_backlog_limit(windows((3, 0), (10, 0)), 64) is None


@pytest.mark.parametrize("limit", [None, 0])
def test_unknown_or_unlimited_limit_gives_no_advice(limit):
    assert suggest_backlog_limit(windows((65, 100)), limit) is None


def test_the_worst_episode_is_peak_plus_lost_rounded_up():
    # Two episodes: 65 + 30 + 40 = 135 over two windows, then 65 + 100 = 165.
    seen = windows((65, 30), (65, 40), (5, 0), (65, 100), (2, 0))
    advice = suggest_backlog_limit(seen, 64, mem_total=8 * GiB)
    assert (advice.peak, advice.lost, advice.windows) == (65, 100, 1)
    assert advice.needed == 165 and advice.limit == 256
    assert advice.memory == 256 * TYPICAL_RECORD_BYTES and not advice.too_big
    assert advice.derivation() == (
        "the worst episode seen (1 window, 1 s): backlog peak 65 + 100 records lost = 165, "
        "rounded up to a power of two: 256 (~576 KiB of kernel memory when full of "
        "typical records)")
    assert advice.remedy() == "auditctl -b 256   # peak 65 + 100 lost, rounded up; ~576 KiB when full"


def test_an_episode_spans_consecutive_windows():
    advice = suggest_backlog_limit(windows((65, 30), (65, 40), (1, 0)), 64)
    assert (advice.peak, advice.lost, advice.windows, advice.limit) == (65, 70, 2, 256)


def test_reaching_the_limit_without_loss_is_an_episode_too():
    advice = suggest_backlog_limit(windows((64, 0)), 64)
    assert (advice.needed, advice.limit) == (64, 128)


def test_a_silent_window_neither_ends_nor_starts_an_episode():
    seen = windows((65, 30), (65, 40))
    silent = replace(seen[1], samples=0, lost=0, backlog_peak=None, status=None)
    advice = suggest_backlog_limit([seen[0], silent, seen[1]], 64)
    assert (advice.lost, advice.windows) == (70, 2)


def test_a_limit_beyond_a_tenth_of_memory_is_no_fix():
    flood = windows((65, 3_000_000))
    advice = suggest_backlog_limit(flood, 64, mem_total=8 * GiB)
    assert advice.limit == 2**22 and advice.too_big and advice.remedy() is None
    unknown_memory = suggest_backlog_limit(flood, 64)
    assert unknown_memory.limit > MAX_RECORDS_UNKNOWN_MEMORY and unknown_memory.too_big
    roomy = suggest_backlog_limit(flood, 64, mem_total=1024 * GiB)
    assert not roomy.too_big
