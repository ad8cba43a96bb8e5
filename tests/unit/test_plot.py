"""The recording plot as text: size, title, labels, colour or none, and the
inputs too small to draw."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
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
    backlog, lost = panels(text)
    assert backlog[0].label == "5k" and "┌" in backlog[0].cells  # the top row: 5000, reached
    assert "┘" in backlog[-1].cells and "┘" in lost[-1].cells  # from 0, in one column
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


def test_drawing_imports_neither_plotext_nor_textual():
    code = ("import sys, auditop.export.plot as p; "
            "from auditop.export.plot import PlotPoint as P; "
            "text = p.plot_text([P(0.0, 1, 0.0, 64), P(9.0, 65, 5.0, 64)], 80, 24); "
            "print(len(text.split(chr(10))), 'plotext' in sys.modules, 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    assert out == ["24", "False", "False"]


def test_colour_is_the_plain_drawing_with_escapes():
    plain = plot_text(incident(), 80, 24, color=False)
    colored = plot_text(incident(), 80, 24, color=True)
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


# -- reading the drawing back -------------------------------------------------------

DATA = set("─│┌┐└┘↑")  # the step line of a series
DRAWN = DATA | {"╌", " "}  # what a panel's rows may hold: no legend over the data


@dataclass
class Row:
    label: str  # the y label, "" for none
    cells: str  # the plot area, one character per column of the time axis
    offset: int  # the column of the plot area's first cell in the line


def panels(text):
    """The rows of each panel, top first, read back from the text."""
    out, rows = [], None
    for line in text.split("\n")[1:]:
        stripped = line.lstrip()
        if stripped.startswith("└"):  # the time axis closes the panel
            out.append(rows)
            rows = None
        elif rows is None:
            rows = []  # the legend line opens the next panel
        elif "┤" in line[:12] or "│" in line[:12]:
            axis = min(i for i in (line.find("┤"), line.find("│")) if i >= 0)
            rows.append(Row(line[:axis].strip(), line[axis + 1:], axis + 1))
    return out


def drawn_rows(rows, column):
    """Indexes (0 = top) of the rows where a series is drawn in `column`."""
    return [i for i, row in enumerate(rows) if row.cells[column] in DATA]


def step(before=10, after=30, low=0, high=65, limit=64):
    return [window(t, low if t < before else high, limit=limit) for t in range(before + after)]


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40), (40, 12)])
def test_the_title_is_the_first_line(width, height):
    lines = plot_text(incident(), width, height).split("\n")
    assert len(lines) == height
    assert lines[0].strip().startswith("backlog peak vs limit")


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40), (40, 12)])
def test_a_jump_is_a_step_with_no_intermediate_values(width, height):
    backlog, _ = panels(plot_text(step(), width, height))
    limit_row = next(i for i, row in enumerate(backlog) if "╌" in row.cells)
    zero_row = len(backlog) - 1
    columns = range(len(backlog[0].cells))
    vertical = [c for c in columns if len(drawn_rows(backlog, c)) > 1]
    assert len(vertical) == 1  # the jump is one column
    jump = vertical[0]
    assert drawn_rows(backlog, jump) == list(range(limit_row, zero_row + 1))
    assert backlog[zero_row].cells[jump] == "┘" and backlog[limit_row].cells[jump] == "┌"
    for column in columns:  # every other column holds one value: 0 before, 65 after
        if column != jump:
            assert drawn_rows(backlog, column) == [zero_row if column < jump else limit_row]
    # nothing between 0 and the limit outside the jump's column
    for row in backlog[limit_row + 1:zero_row]:
        assert row.cells.replace("│", " ", 1).strip() == ""


@pytest.mark.parametrize("limit", [64, 100, 1024, 8192, 131072])
@pytest.mark.parametrize("width, height", [(80, 24), (100, 30), (40, 12)])
def test_the_limit_is_a_row_labelled_with_the_exact_limit(limit, width, height):
    windows = [window(t, (limit + 1) if 20 <= t < 30 else 3, limit=limit) for t in range(60)]
    text = plot_text(windows, width, height)
    backlog, _ = panels(text)
    limit_rows = [i for i, row in enumerate(backlog) if "╌" in row.cells]
    assert len(limit_rows) == 1
    assert backlog[limit_rows[0]].label == str(limit)  # exactly: 8192, never 8.19k
    # the peaks one above the limit are drawn on the limit's row, not a row higher
    assert "─" in backlog[limit_rows[0]].cells
    assert all(set(row.cells) <= {" "} for row in backlog[:limit_rows[0]])
    assert f"limit {limit} ╌╌" in text.split("\n")[1]


@pytest.mark.parametrize("width, height", [(80, 24), (120, 40)])
def test_the_legends_are_outside_the_data(width, height):
    text = plot_text(incident(), width, height)
    lines = text.split("\n")
    assert "backlog peak" in lines[1] and "backlog_limit 64" in lines[1]
    for rows in panels(text):
        for row in rows:
            assert set(row.cells) <= DRAWN, row.cells
    assert "records lost per second" in next(line for line in lines[3:] if "lost/s" in line)


@pytest.mark.parametrize("width", [40, 80, 120])
def test_both_panels_share_one_time_axis(width):
    text = plot_text(incident(), width, 24)
    backlog, lost = panels(text)
    assert backlog[0].offset == lost[0].offset
    rises = [[c for c in range(len(rows[0].cells)) if rows[-1].cells[c] == "┘"]
             for rows in (backlog, lost)]
    falls = [[c for c in range(len(rows[0].cells)) if rows[-1].cells[c] == "└"]
             for rows in (backlog, lost)]
    assert rises[0] == rises[1] and len(rises[0]) == 1  # the stall starts in one column
    assert falls[0] == falls[1] and len(falls[0]) == 1  # and ends in one column
    axes = [line for line in text.split("\n") if line.lstrip().startswith("└")]
    assert len(axes) == 2 and axes[0] == axes[1]  # the same ticks under both


def test_a_window_holds_its_value_over_its_whole_duration():
    """Ten windows over 80 columns: each spans about 8 columns, as a level."""
    windows = [window(t, 64 if t == 5 else 0) for t in range(10)]
    backlog, _ = panels(plot_text(windows, 80, 24))
    limit_row = next(i for i, row in enumerate(backlog) if "╌" in row.cells)
    top = backlog[limit_row].cells
    width = len(top)
    drawn = [c for c in range(width) if top[c] in DATA]
    assert top[drawn[0]] == "┌" and top[drawn[-1]] == "┐"
    assert drawn == list(range(drawn[0], drawn[-1] + 1))
    # window 5 spans (4 s, 5 s] of 9 s: its level covers that share of the axis
    assert abs(drawn[0] - width * 4 / 9) <= 1 and abs(drawn[-1] - width * 5 / 9) <= 1


def test_any_loss_is_drawn_above_zero():
    windows = incident(60)
    windows[50] = window(50, 3, lost=1.0)  # 1/s next to 400 000/s
    _, lost = panels(plot_text(windows, 80, 24))
    columns = [c for c in range(len(lost[0].cells)) if lost[-1].cells[c] == "┘"]
    assert len(columns) == 2  # the stall and the single record
    assert lost[-2].cells[columns[1]] == "┌"  # one row up: 1/s is not 0/s


def test_a_limit_change_draws_the_backlog_as_a_share_of_the_limit_in_force():
    """An overflow at 64, then limit 8192 with a backlog of a few hundred:
    the overflow stays at the limit row (100%) instead of looking like 0."""
    windows = ([window(t, 65 if 10 <= t < 20 else 2, limit=64) for t in range(40)]
               + [window(t, 500, limit=8192) for t in range(40, 100)])
    text = plot_text(windows, 100, 30)
    assert "% of the backlog_limit in force (64 then 8192)" in text.split("\n")[1]
    backlog, _ = panels(text)
    limit_row = next(i for i, row in enumerate(backlog) if "╌" in row.cells)
    assert backlog[limit_row].label == "100%" and backlog[-1].label == "0%"
    overflow = [c for c in range(len(backlog[0].cells)) if backlog[limit_row].cells[c] in DATA]
    assert len(overflow) >= 10  # 10 s of 99 s, over 96 columns
    late = backlog[-2].cells[-10:]  # 500 of 8192: 6%, one row above 0%
    assert set(late) == {"─"}


def test_a_value_far_above_the_top_row_is_marked():
    windows = [window(t, 5_000 if t > 5 else 10, limit=100) for t in range(20)]
    text = plot_text(windows, 60, 14)
    backlog, _ = panels(text)
    assert "↑" in backlog[0].cells and "↑ above" in text.split("\n")[1]
    assert next(row.label for row in backlog if "╌" in row.cells) == "100"


# -- `auditop plot`: a stretch (--from / --to), -o - ----------------------------------

@pytest.fixture
def overflow(tmp_path, monkeypatch):
    """The scripted overflow, 60 s recorded from 2023-11-14 22:13:20 UTC, and a
    damaged last line (a recorder killed while writing)."""
    import time as clock

    from tests.screenshots import recording
    monkeypatch.setenv("TZ", "UTC")
    clock.tzset()
    path = recording(tmp_path / "overflow.jsonl")
    with open(path, "a") as out:
        out.write('{"version": 2, "ti')
    yield path
    monkeypatch.undo()
    clock.tzset()


def test_plot_draws_only_the_stretch_and_reads_no_further(overflow, capsys):
    from auditop import cli
    argv = ["plot", str(overflow), "-o", "-", "--width", "80", "--height", "20"]
    assert cli.main(argv) == 0
    whole = capsys.readouterr()
    assert whole.out.split("\n")[0].strip() == (
        "backlog peak vs limit, 2023-11-14 22:13:21 to 22:14:19 UTC")
    assert "line 60: cut short" in whole.err  # the whole file was read
    # the recording starts 22:13:20.1 (its first window, 0.9 s, closes at 22:13:21): +20 s
    # is 22:13:40.1, in the window that closes at 22:13:41
    assert cli.main(argv + ["--from", "22:13:30", "--to", "+20s"]) == 0
    part = capsys.readouterr()
    assert part.out.split("\n")[0].strip() == (
        "backlog peak vs limit, 2023-11-14 22:13:30 to 22:13:41 UTC")
    assert part.err == ""  # the damaged line past --to was never read
    assert not ANSI.search(part.out) and len(part.out.splitlines()) == 20  # -o -: plain text


@pytest.mark.parametrize("flags, says", [
    (["--from", "23:00"], "auditop: --from 23:00 is outside the recording: 2023-11-14 "
                          "22:13:20 to 22:14:19\n"),
    (["--from", "+30", "--to", "+10"], "auditop: --to +10 is not after --from +30\n"),
])
def test_a_time_outside_the_recording_is_one_line_and_exit_2(overflow, capsys, flags, says):
    from auditop import cli
    assert cli.main(["plot", str(overflow), *flags]) == 2
    out, err = capsys.readouterr()
    assert (out, err.splitlines()[-1] + "\n") == ("", says)
