"""The recording plot as text: size, title, labels, colour or none, and the
inputs too small to draw."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from auditop.export.plot import color_wanted, plot_text

ANSI = re.compile(r"\x1b\[")
CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")
START = 1_750_000_000.0


def window(t, peak, limit=64, lost=0.0):
    status = None if limit is None else SimpleNamespace(backlog_limit=limit)
    return SimpleNamespace(time=START + t, backlog_peak=peak, status=status, lost_per_s=lost)


def incident(seconds=120):
    """Quiet, a stall at the limit losing 400 000 records a second, quiet."""
    return [window(t, 65 if 20 <= t < 30 else t % 3, lost=400_000.0 if 20 <= t < 30 else 0.0)
            for t in range(seconds)]


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40), (40, 12), (200, 60), (63, 17)])
def test_the_plot_has_the_size_asked_for(width, height):
    lines = plot_text(incident(), width, height, color=False).split("\n")
    assert len(lines) == height
    assert {len(line) for line in lines} == {width}


def test_title_legends_and_time_labels():
    text = plot_text(incident(), 100, 30, color=False)
    assert text.split("\n")[0].strip().startswith("backlog peak vs limit, ")
    for label in ("backlog peak", "backlog_limit", "lost/s", "records lost per second"):
        assert label in text
    clocks = CLOCK.findall(text)
    assert len(clocks) >= 6  # HH:MM:SS under both panels (and in the title)
    assert "400k" in text  # lost per second, readably


def test_a_given_title():
    text = plot_text(incident(), 80, 24, title="incident 4711: auditd stalled")
    assert text.split("\n")[0].strip() == "incident 4711: auditd stalled"


def test_plain_has_no_escapes_and_colour_has():
    assert not ANSI.search(plot_text(incident(), 80, 24, color=False))
    colored = plot_text(incident(), 80, 24, color=True)
    assert ANSI.search(colored) and len(colored.split("\n")) == 24


def test_a_short_burst_in_a_long_recording_still_shows():
    day = [window(t, 0, limit=None) for t in range(86_400)]
    day[43_210] = window(43_210, 5_000, limit=None, lost=30_000.0)
    text = plot_text(day, 80, 24)
    assert "6k" in text and "30k" in text  # the axes reach the single window's values
    assert "█" in text  # and its column is drawn
    assert "no limit known" in text.split("\n")[0]


def test_unknown_values_are_left_out():
    windows = incident(30)
    windows[5] = window(5, None, limit=None, lost=None)  # a window the kernel never answered
    windows[6] = SimpleNamespace(time=START + 6, backlog_peak=3, status=None, lost_per_s=None)
    text = plot_text(windows, 80, 24)
    assert len(text.split("\n")) == 24


@pytest.mark.parametrize("windows, says", [
    ([], "no windows"),
    ([window(0, 12)], "1 window(s) at"),
    ([window(0, 12), window(0, 13)], "2 window(s) at"),
])
def test_nothing_to_draw_over_time_is_a_message(windows, says):
    text = plot_text(windows, 80, 24)
    assert "\n" not in text and text.startswith("auditop: nothing to plot") and says in text


def test_too_small_a_plot_is_refused():
    with pytest.raises(ValueError, match="at least 40x12"):
        plot_text(incident(), 30, 24)


class Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_color_wanted_on_a_terminal_without_no_color():
    assert color_wanted(Stream(True), {})
    assert not color_wanted(Stream(True), {"NO_COLOR": "1"})
    assert not color_wanted(Stream(False), {})
    assert color_wanted(Stream(True), {"NO_COLOR": ""})  # no-color.org: set and not empty


def test_plotext_is_imported_only_to_draw():
    code = ("import sys, auditop.export.plot as p; a = 'plotext' in sys.modules; "
            "p.plot_text([], 80, 24); print(a, 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out == ["False", "False"]
