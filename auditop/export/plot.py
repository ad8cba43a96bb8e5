"""A recording's backlog over time, drawn as text with plotext.

Two panels over the recording's time (local clock, HH:MM:SS): the backlog
peak of each window against backlog_limit, and the records lost per second.
Long recordings are reduced to about two points per column, keeping each
column's largest peak and loss, so a 150 ms burst in a 24 h recording still
shows. Plain text when `color` is False: for a file (an incident report)
and when NO_COLOR is set (`color_wanted`).

plotext keeps its figure in module state, so drawing holds a lock; it is
imported only when a plot is drawn.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence, TextIO

MIN_WIDTH, MIN_HEIGHT = 40, 12
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOCK = threading.Lock()


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
    """The plot, `height` lines of `width` columns; for fewer than two
    windows (nothing to draw over time) a one-line message instead."""
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
                f"{_clock(only.time)}, backlog peak {_value(only.backlog_peak)} of limit "
                f"{_value(_limit(only))}, {_value(only.lost_per_s)} lost/s")
    columns = _columns(points, start, end, buckets=2 * width)
    title = title or _title(start, end, bool(columns["limit"][1]), width)
    return _draw(columns, start, end, width, height, color, title[:width].center(width))


def _limit(window: PlotWindow | PlotPoint) -> int | None:
    if isinstance(window, PlotPoint):
        return window.backlog_limit
    status = window.status
    return getattr(status, "backlog_limit", None) if status is not None else None


def _columns(points: Sequence[PlotWindow], start: float, end: float,
             buckets: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per time bucket: the largest peak and loss, the last limit (x in
    seconds since `start`). Buckets without a value are left out."""
    span = end - start
    count = min(len(points), buckets)
    peak: dict[int, float] = {}
    lost: dict[int, float] = {}
    limit: dict[int, float] = {}
    for window in points:
        index = min(int((window.time - start) / span * count), count - 1)
        if window.backlog_peak is not None:
            peak[index] = max(peak.get(index, 0), window.backlog_peak)
        if window.lost_per_s is not None:
            lost[index] = max(lost.get(index, 0.0), window.lost_per_s)
        if backlog_limit := _limit(window):  # 0 is unlimited: no line to draw
            limit[index] = backlog_limit

    def series(values: dict[int, float]) -> tuple[list[float], list[float]]:
        keys = sorted(values)
        return [span * (k + 0.5) / count for k in keys], [values[k] for k in keys]
    return {"peak": series(peak), "lost": series(lost), "limit": series(limit)}


def _draw(columns: dict[str, tuple[list[float], list[float]]], start: float, end: float,
          width: int, height: int, color: bool, title: str) -> str:
    import plotext as plt

    span = end - start
    count = max(2, min(6, (width - 10) // 14))
    ticks = [span * i / (count - 1) for i in range(count)]
    labels = [_clock(start + t) for t in ticks]
    rows = max(2, (height // 2 - 4) // 2)
    top_value = max(columns["peak"][1] + columns["limit"][1] + [1])
    lost_value = max(columns["lost"][1] + [1])
    pad = max(len(_si(v)) for v in _nice_ticks(top_value, rows) + _nice_ticks(lost_value, rows))
    with _LOCK:
        plt.clear_figure()
        try:
            plt.limitsize(False, False)
            plt.subplots(2, 1)
            plt.plotsize(width, height - 1)  # the title line is ours: plotext drops long ones
            plt.theme("clear")
            plt.subplot(1, 1)
            if columns["limit"][0]:
                plt.plot(*columns["limit"], label="backlog_limit", marker="-", color="red")
            if columns["peak"][0]:
                plt.plot(*columns["peak"], label="backlog peak", marker="hd", color="cyan")
            _axes(plt, span, ticks, labels, top_value, rows, pad)
            plt.subplot(2, 1)
            plt.title("records lost per second")
            if columns["lost"][0]:
                plt.plot(*columns["lost"], label="lost/s", marker="hd", color="orange")
            _axes(plt, span, ticks, labels, lost_value, rows, pad)
            plt.main()
            text = plt.build()
        finally:
            plt.clear_figure()
    return title + "\n" + _fit(text if color else _ANSI.sub("", text), width, height - 1, color)


def _axes(plt: Any, span: float, ticks: list[float], labels: list[str], top: float,
          rows: int, pad: int) -> None:
    """Time ticks; round y ticks, their labels padded alike so that the two
    panels' time axes line up."""
    plt.xlim(0, span)
    plt.xticks(ticks, labels)
    values = _nice_ticks(top, rows)
    plt.ylim(0, values[-1])
    plt.yticks(values, [_si(v).rjust(pad) for v in values])


def _nice_ticks(top: float, count: int) -> list[float]:
    """0 and round steps (1, 2, 5 x 10^n) up to at least `top`."""
    raw = top / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(math.ceil(top / step) + 1)]


def _si(value: float) -> str:
    for divisor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= divisor:
            return f"{value / divisor:.3g}{suffix}"
    return f"{value:.3g}"


def _fit(text: str, width: int, height: int, color: bool) -> str:
    lines = text.rstrip("\n").split("\n")[:height]
    lines += [" " * width] * (height - len(lines))
    if not color:  # plain text can be measured: make every line exactly `width`
        lines = [line[:width].ljust(width) for line in lines]
    return "\n".join(lines)


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _title(start: float, end: float, limited: bool, room: int) -> str:
    """The longest of a few titles that fits in `room` columns."""
    local = time.localtime(start)
    day = time.strftime("%Y-%m-%d", local)
    same_day = day == time.strftime("%Y-%m-%d", time.localtime(end))
    until = _clock(end) if same_day else time.strftime("%Y-%m-%d %H:%M:%S",
                                                       time.localtime(end))
    span = f"{day} {_clock(start)} to {until} {time.strftime('%Z', local)}"
    what = "backlog peak vs limit" if limited else "backlog peak (no limit known)"
    for candidate in (f"{what}, {span}", f"{what}, {day} {_clock(start)}", what):
        if len(candidate) <= room:
            return candidate
    return "backlog"


def _value(value: float | None) -> str:
    return "?" if value is None else _si(value)
