"""The benchmark's statistics and table (tests/benchmarks/table.py): the
benchmark itself is not run by the suite, but the figures it prints must be
the right medians, ratios and verdicts."""

from __future__ import annotations

import math

import pytest

from tests.benchmarks.table import (Budget, Figure, Section, number, ratio, render, rows,
                                    stats, unavailable)


@pytest.mark.parametrize("values, median, low, high", [
    ([5.0], 5.0, 5.0, 5.0),
    ([3.0, 1.0, 2.0], 2.0, 1.0, 3.0),
    ([4.0, 1.0, 3.0, 2.0], 2.5, 1.0, 4.0),  # even: the mean of the middle two
    ([1.0, 100.0, 2.0], 2.0, 1.0, 100.0),  # one outlier does not move the median
])
def test_stats(values, median, low, high):
    s = stats(values)
    assert (s.median, s.low, s.high, s.n) == (median, low, high, len(values))


def test_stats_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        stats([])


@pytest.mark.parametrize("value, text", [
    (0, "0"), (7.0, "7"), (50.0, "50"),  # whole values are counts: no decimals
    (1.5, "1.50"), (0.5, "0.500"), (12.34, "12.3"), (123.4, "123"), (12345.6, "12346"),
    (0.000123, "0.000123"), (0.0012345, "0.00123"),  # never an exponent
    (9.996, "10.0"), (0.9996, "1.00"), (99.95, "100"),  # rounding carries a digit
    (-2.5, "-2.50"), (float("nan"), "-"), (None, "-"), (math.inf, "inf"),
])
def test_number(value, text):
    assert number(value) == text


def test_number_keeps_decimals_when_asked():
    assert number(3.0, whole=False) == "3.00"  # a ratio of exactly 3
    assert number(250.0, whole=False) == "250"
    assert number(0.0, whole=False) == "0"  # a ratio to 0 B/s written: no log10(0)


@pytest.mark.parametrize("value, verdict", [
    (0.4, "pass"), (0.5, "pass"), (0.7, "pass (aim: miss)"), (1.0, "pass (aim: miss)"),
    (1.01, "miss"), (float("nan"), "miss"),
])
def test_budget_verdict(value, verdict):
    assert Budget(1.0, aim=0.5).verdict(value) == verdict
    assert Budget(1.0, aim=0.5).text() == "<= 1 (aim 0.500)"


def test_budget_without_aim():
    assert Budget(4096).verdict(4096) == "pass"
    assert Budget(4096).verdict(4097) == "miss"
    assert Budget(4096).text() == "<= 4096"


def test_ratio_is_median_over_median():
    mine = Figure("auditop", "CPU", "%", (1.0, 3.0, 100.0))  # median 3
    anchor = Figure("top", "CPU", "%", (0.5, 1.5, 2.0, 1.0))  # median 1.25
    assert ratio(mine, anchor) == pytest.approx(2.4)
    assert ratio(mine, Figure("top", "CPU", "%", (0.0,))) is None
    assert ratio(mine, unavailable("top", "CPU", "%", "top not installed")) is None
    assert ratio(unavailable("auditop", "CPU", "%", "no pty"), anchor) is None


def test_a_figure_needs_values_or_a_reason():
    with pytest.raises(ValueError):
        Figure("auditop", "CPU", "%")
    assert unavailable("replay", "first frame", "s", "no replay yet").missing == \
        "not available: no replay yet"


def _run() -> list[Section]:
    query = Section("One status query", (
        Figure("C loop", "wall", "us", (60.0, 70.0, 80.0)),
        Figure("auditctl", "wall", "us", (3000.0,)),
        Figure("auditop", "wall", "us", (140.0, 150.0, 900.0), anchors=("C loop", "auditctl")),
        Figure("auditop", "CPU", "us", (300.0,), anchors=("C loop",)),
    ), notes=("a note",))
    work = Section("Cost against work", (
        Figure("record 10 Hz", "wall", "us", (210.0,), anchors=("C loop",)),
        Figure("record 50 Hz", "CPU", "%", (0.8, 1.2, 1.4), budget=Budget(1.0)),
        unavailable("replay 1 h", "first frame", "s", "no replay command yet",
                    anchors=("auditop",)),
    ))
    return [query, work]


def test_rows_ratios_letters_and_budgets():
    sections = _run()
    cells, legend = rows(sections[0], sections)
    assert legend == ["a = C loop", "b = auditctl"]  # in the order they were measured
    by_subject = {(row[0], row[1]): row for row in cells}
    assert by_subject[("C loop", "wall")][3:8] == ["70", "60", "80", "3", "(a)"]
    assert by_subject[("auditop", "wall")][7] == "a 2.14x b 0.0500x"
    # The C loop has no CPU figure: nothing to compare, no empty ratio.
    assert by_subject[("auditop", "CPU")][7] == ""
    cells, legend = rows(sections[1], sections)
    assert legend == ["a = C loop", "b = auditop"]  # anchors found in another section
    record10, record50, replay = cells
    assert record10[7] == "a 3.00x"
    assert record50[3:] == ["1.20", "0.800", "1.40", "3", "", "<= 1", "miss"]
    assert replay[3] == "not available: no replay command yet"


def test_render_text_aligns_columns():
    text = render(_run())
    lines = text.splitlines()
    assert lines[0] == "1. One status query  (anchors: a = C loop, b = auditctl)"
    header = lines[1]
    table = lines[1:6]
    # Numbers are right-aligned: each median ends where the header's "median" does.
    end = header.index("median") + len("median")
    for line, median in zip(table[1:], ["70", "3000", "150", "300"]):
        assert line[:end].endswith(median), line
    assert "  a note" in lines
    replay = next(line for line in lines if line.startswith("replay 1 h"))
    assert replay.split() == ["replay", "1", "h", "first", "frame", "s", "not", "available:",
                              "no", "replay", "command", "yet"]
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_render_markdown():
    text = render(_run(), markdown=True)
    lines = text.splitlines()
    assert lines[0] == "### 1. One status query  (anchors: a = C loop, b = auditctl)"
    assert lines[2].startswith("| subject | metric | unit | median |")
    assert lines[3] == "|---|---|---|---:|---:|---:|---:|---|---|---|"
    assert "| record 50 Hz | CPU | % | 1.20 | 0.800 | 1.40 | 3 |  | <= 1 | miss |" in lines
    assert "- a note" in lines
    pipes = {line.count("|") for line in lines if line.startswith("|")}
    assert pipes == {11}  # every row has every column


def test_markdown_escapes_pipes():
    section = Section("s", (Figure("a|b", "m", "u", (1.0,)),))
    assert "| a\\|b | m | u | 1 |" in render([section], markdown=True)
