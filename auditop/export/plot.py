"""A recording's backlog over time, drawn as text.

Two panels over one time axis (local clock, HH:MM:SS): the backlog peak of
each window against backlog_limit, and the records lost per second. Each
column of the time axis is a slice of the recording and shows the largest
value of the windows it touches, so a 150 ms burst in a 24 h recording
still shows, and a window holds its value over its whole duration: the
values are drawn as steps (a jump from 0 to 65 is one vertical stroke, never
a slope through values no window had).

Rows are exact: the backlog panel's scale is chosen so that backlog_limit
is a drawn row, labelled with the limit itself; the loss panel's rows are
round numbers, and any loss above zero is drawn at least one row above 0.
When the limit changed during the recording (64, then 8192), the backlog is
drawn as a share of the limit in force in each window, so an overflow at a
small limit is as visible as one at a large limit, and the panel says so.
Legends are on each panel's own line above its data.

Plain text when `color` is False: for a file (an incident report) and when
NO_COLOR is set (`color_wanted`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence, TextIO

from auditop.core.text import (clock_text, count_text, day_text, number_text, short_number,
                               stamp_text)

MIN_WIDTH, MIN_HEIGHT = 40, 12
PANEL_LINES = 3  # a panel's legend line, time axis and clock labels, besides its rows

# The step line of a series, and the limit.
LEVEL = "─"
RISE, FALL = ("┘", "┌"), ("└", "┐")  # (lower, upper) end of a jump up, of a jump down
LIMIT = "╌"
CLIPPED = "↑"  # a value above the panel's top row
_COLOURS = {"limit": "31", "peak": "36", "lost": "33"}  # SGR: red, cyan, yellow


class PlotWindow(Protocol):
    """What a plot reads of a window (a RecordedWindow has it)."""

    time: float
    backlog_peak: int | None
    lost_per_s: float | None

    @property
    def status(self) -> Any: ...  # anything with .backlog_limit, or None


@dataclass(frozen=True, slots=True)
class PlotPoint:
    """One window reduced to what a plot reads (a replay keeps these, not windows)."""

    time: float
    backlog_peak: int | None
    lost_per_s: float | None
    backlog_limit: int | None


def window_points(windows: Iterable[Any]) -> list[PlotPoint]:
    """The Monitor's Windows (core/history.py) as points, at their close."""
    return [PlotPoint(w.end, w.backlog_peak, w.lost_per_s,
                      w.status.backlog_limit if w.status is not None else None)
            for w in windows]


def color_wanted(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Colour for a terminal, none for a file or when NO_COLOR is set (no-color.org)."""
    environ = os.environ if environ is None else environ
    return not environ.get("NO_COLOR") and stream.isatty()


def plot_text(windows: Sequence[PlotWindow | PlotPoint], width: int = 80, height: int = 24,
              color: bool = False, *, title: str | None = None) -> str:
    """The plot, `height` lines of `width` columns, the title first; for
    fewer than two windows (nothing to draw over time) a one-line message
    instead."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a plot needs at least {MIN_WIDTH}x{MIN_HEIGHT} characters, "
                         f"not {width}x{height}")
    points = sorted(windows, key=lambda w: w.time)
    if not points:
        return "auditop: nothing to plot: the recording has no windows"
    start, end = points[0].time, points[-1].time
    if len(points) == 1 or end <= start:
        only = points[-1]
        return (f"auditop: nothing to plot over time: {len(points)} window(s) at "
                f"{clock_text(only.time)}, backlog peak {count_text(only.backlog_peak)} of limit "
                f"{count_text(_limit(only))}, {number_text(only.lost_per_s)} lost/s")
    times = [p.time for p in points]
    limits = [_limit(p) or None for p in points]  # 0 is unlimited: no limit to draw
    known = sorted({limit for limit in limits if limit})
    share = len(known) > 1  # the limit changed: each window against its own
    if share:
        backlog = [None if p.backlog_peak is None or not limit else 100 * p.backlog_peak / limit
                   for p, limit in zip(points, limits)]
    else:
        backlog = [p.backlog_peak for p in points]
    lost = [p.lost_per_s for p in points]

    rows = height - 1 - 2 * PANEL_LINES
    lost_rows = max(2, rows * 2 // 5)
    upper = _limit_scale(backlog, 100.0 if share else (known[0] if known else None),
                         rows - lost_rows, "%" if share else "")
    lower = _round_scale(lost, lost_rows, at_least_one=True)
    pad = max(len(label) for label in list(upper.labels.values()) + list(lower.labels.values()))
    plot_width = width - pad - 1
    columns_upper = _columns(times, backlog, start, end, plot_width)
    columns_lower = _columns(times, lost, start, end, plot_width)
    title = title or _title(start, end, bool(known), width)
    if share:
        legends = [f"backlog peak {LEVEL * 2} as % of the backlog_limit in force "
                   f"({_changes(limits)}): limit = 100% {LIMIT * 2}",
                   f"peak {LEVEL * 2} as % of the limit in force ({_changes(limits)}), "
                   f"limit {LIMIT * 2}",
                   f"peak {LEVEL * 2} as % of the limit in force, limit {LIMIT * 2}",
                   f"peak {LEVEL * 2} % of its limit, {LIMIT * 2} 100%"]
    elif known:
        legends = [f"backlog peak {LEVEL * 2}   backlog_limit {known[0]} {LIMIT * 2}",
                   f"peak {LEVEL * 2}  limit {known[0]} {LIMIT * 2}"]
    else:
        legends = [f"backlog peak {LEVEL * 2}   (no backlog_limit known)",
                   f"peak {LEVEL * 2}  (no limit known)"]
    room = width - pad - 1
    legend = next((text for text in legends if len(text) <= room), legends[-1])
    ticks = _ticks(start, end, plot_width)
    lines = [title[:width].center(width)]
    lines += _panel(legend, upper, columns_upper, "peak", ticks, pad, width, color)
    lost_legend = f"records lost per second, lost/s {LEVEL * 2}"
    if len(lost_legend) > room:
        lost_legend = f"lost/s {LEVEL * 2}"
    lines += _panel(lost_legend, lower, columns_lower, "lost", ticks, pad, width, color)
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Scale:
    """A panel's rows: row r (0 at the bottom) stands for r * unit."""

    rows: int
    unit: float
    labels: dict[int, str]  # row -> its value, exactly
    limit_row: int | None = None
    at_least_one: bool = False  # any value above 0 is drawn above row 0

    def row(self, value: float) -> int:
        # A subnormal top rounds the unit to 0: every value is then row 0 (or 1)
        rows = value / self.unit if self.unit > 0 else 0.0
        row = math.floor(rows + 0.5) if math.isfinite(rows) else self.rows
        if self.at_least_one and value > 0:
            row = max(row, 1)
        return row  # may be above the top row: drawn clipped


def _limit_scale(values: Sequence[float | None], limit: float | None, rows: int,
                 unit_text: str) -> _Scale:
    """Rows with `limit` exactly on one of them, as high as the values allow."""
    if not limit:
        return _round_scale(values, rows)
    top = max((v for v in values if v is not None), default=0.0)
    limit_row = rows - 1 if top <= limit else max(1, math.floor((rows - 1) * limit / top))
    unit = limit / limit_row
    labels = {0: f"0{unit_text}", limit_row: _exact(limit) + unit_text}
    if limit_row >= 4 and limit_row % 2 == 0:
        labels[limit_row // 2] = _exact(limit / 2) + unit_text
    if rows - 1 - limit_row >= 2:
        labels[rows - 1] = _exact((rows - 1) * unit) + unit_text
    return _Scale(rows, unit, labels, limit_row)


def _round_scale(values: Sequence[float | None], rows: int, at_least_one: bool = False) -> _Scale:
    """Rows of round numbers (steps of 1, 2 or 5 x 10^n) up to at least the largest value."""
    top = max((v for v in values if v is not None), default=0.0)
    if top > 0 and rows < 5:  # too few rows for round steps: the top row is the largest value
        return _Scale(rows, top / (rows - 1), {0: "0", rows - 1: _exact(top)}, None,
                      at_least_one)
    unit = _nice(top / (rows - 1)) if top > 0 else 1.0
    every = max(1, round((rows - 1) / 3))
    labels = {r: _exact(r * unit) for r in [*range(0, rows, every), rows - 1]}
    return _Scale(rows, unit, labels, None, at_least_one)


def _nice(raw: float) -> float:
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-12))


def _columns(times: Sequence[float], values: Sequence[float | None], start: float, end: float,
             count: int) -> list[float | None]:
    """Per column of the time axis, the largest value of the windows that
    overlap it. Window i spans (times[i-1], times[i]]: its value holds until
    it closes. None where no window touching the column has a value."""
    span = end - start
    out: list[float | None] = [None] * count
    previous = start
    for moment, value in zip(times, values):
        first = min(count - 1, max(0, math.floor((previous - start) / span * count)))
        last = min(count - 1, max(first, math.ceil((moment - start) / span * count) - 1))
        previous = moment
        if value is None:
            continue
        for column in range(first, last + 1):
            held = out[column]
            if held is None or value > held:
                out[column] = value
    return out


def _panel(legend: str, scale: _Scale, values: list[float | None], series: str,
           ticks: dict[int, str], pad: int, width: int, color: bool) -> list[str]:
    """The legend line, the rows (top first), the time axis and its clocks."""
    plot_width = width - pad - 1
    grid: list[list[tuple[str, str | None]]] = [[(" ", None)] * plot_width
                                                for _ in range(scale.rows)]
    if scale.limit_row is not None:
        grid[scale.limit_row] = [(LIMIT, "limit")] * plot_width
    top = scale.rows - 1
    previous: int | None = None
    for column, value in enumerate(values):
        if value is None:
            previous = None
            continue
        row = scale.row(value)
        clipped = row > top
        row = min(row, top)
        if previous is None or previous == row:
            grid[row][column] = (CLIPPED if clipped else LEVEL, series)
        else:  # the jump, in the column where the new value starts
            low, high = sorted((previous, row))
            low_end, high_end = RISE if row > previous else FALL
            grid[low][column] = (low_end, series)
            for between in range(low + 1, high):
                grid[between][column] = ("│", series)
            grid[high][column] = (CLIPPED if clipped and row == high else high_end, series)
        previous = row
    if any(char == CLIPPED for char, _ in grid[top]):
        legend += f"   {CLIPPED} above {scale.labels.get(top) or _exact(top * scale.unit)}"
    lines = [" " * (pad + 1) + legend[:plot_width].ljust(plot_width)]
    for row in range(top, -1, -1):
        label = scale.labels.get(row)
        axis = (label.rjust(pad) + "┤") if label is not None else " " * pad + "│"
        lines.append(axis + _cells(grid[row], color))
    axis = ["─"] * plot_width
    under = [" "] * (width + 8)
    for column, clock in ticks.items():
        axis[column] = "┬"
        begin = min(max(0, pad + 1 + column - len(clock) // 2), width - len(clock))
        under[begin:begin + len(clock)] = clock
    lines.append(" " * pad + "└" + "".join(axis))
    lines.append("".join(under[:width]))
    return lines


def _cells(cells: list[tuple[str, str | None]], color: bool) -> str:
    if not color:
        return "".join(char for char, _ in cells)
    out, current = [], None
    for char, series in cells:
        if series != current:
            out.append("\x1b[0m" if series is None else f"\x1b[{_COLOURS[series]}m")
            current = series
        out.append(char)
    return "".join(out) + ("\x1b[0m" if current is not None else "")


def _ticks(start: float, end: float, plot_width: int) -> dict[int, str]:
    """Evenly spaced columns of the time axis, each with the clock at its start."""
    count = max(2, min(6, plot_width // 14))
    span = end - start
    ticks = {}
    for i in range(count):
        column = round(i * (plot_width - 1) / (count - 1))
        ticks[column] = clock_text(start + span * column / plot_width)
    return ticks


def _changes(limits: Sequence[int | None]) -> str:
    """The limits in force, in order: `64 then 8192`."""
    seen: list[int] = []
    for limit in limits:
        if limit and (not seen or seen[-1] != limit):
            seen.append(limit)
    if len(seen) > 3:
        return f"{seen[0]} ... {seen[-1]}, {len(seen) - 1} changes"
    return " then ".join(str(limit) for limit in seen)


def _exact(value: float) -> str:
    """A tick value as it is: 400k and 2.5k where that is exact, 8192 whole
    (never 8.19k); to 3 digits only what is neither (a fraction, 1.2M + 1)."""
    short = short_number(value)
    for suffix, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if short.endswith(suffix):
            if float(short[:-1]) * size == value:
                return short
            break
    if value == int(value) and abs(value) < 10_000_000:
        return str(int(value))
    return short


def _limit(window: PlotWindow | PlotPoint) -> int | None:
    if isinstance(window, PlotPoint):
        return window.backlog_limit
    status = window.status
    return getattr(status, "backlog_limit", None) if status is not None else None


def _title(start: float, end: float, limited: bool, room: int) -> str:
    """The longest of a few titles that fits in `room` columns."""
    day = day_text(start)
    until = clock_text(end) if day == day_text(end) else stamp_text(end)
    span = f"{day} {clock_text(start)} to {until} {time.strftime('%Z', time.localtime(start))}"
    what = "backlog peak vs limit" if limited else "backlog peak (no limit known)"
    for candidate in (f"{what}, {span}", f"{what}, {day} {clock_text(start)}", what):
        if len(candidate) <= room:
            return candidate
    return "backlog"
