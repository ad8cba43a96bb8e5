"""Charts of the closed windows, newest at the right, each with its scale.

- backlog PEAK per window against backlog_limit (a full bar is the limit;
  a 150 ms flood inside a 1 s window still shows at the top),
- lost records per second,
- netlink drops per second on auditd's socket (where there is room).

Block charts (a pure function of the numbers) on one time axis: one column
per window in every chart, so a window is in the same column in all of
them, and a jump between two windows is a jump between two columns. A tall
screen gives the backlog chart more rows and a time axis under the charts.
Charts change only when a window closes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from textual.content import Content

from auditop.core.text import UNKNOWN, seconds_text, share_text, short_number, tick_text
from auditop.tui.view import View
from auditop.tui.widgets.base import ViewWidget

BLOCKS = " ▁▂▃▄▅▆▇█"
NO_DATA = "·"  # the kernel did not answer in that window
LABEL_WIDTH = 22
AXIS_MIN_HEIGHT = 12  # from here a time axis under the charts


def bars(values: list[float | None], width: int, height: int, top: float) -> list[str]:
    """A block chart `height` rows tall and `width` cells wide of the last
    `width` values, scaled so `top` fills a column; None draws NO_DATA on
    the bottom row. Values above `top` are clipped to a full column; any
    value above zero shows at least one eighth."""
    width, height = max(width, 0), max(height, 1)
    shown = values[-width:] if width else []
    columns = []
    for value in shown:
        if value is None:
            columns.append(None)
            continue
        eighths = 0 if top <= 0 or value <= 0 else \
            max(1, min(height * 8, math.floor(value / top * height * 8 + 0.5)))
        columns.append(eighths)
    pad = width - len(columns)
    rows = []
    for row in range(height):  # top row first
        floor = (height - 1 - row) * 8
        cells = [" "] * pad
        for eighths in columns:
            if eighths is None:
                cells.append(NO_DATA if row == height - 1 else " ")
            else:
                cells.append(BLOCKS[max(0, min(8, eighths - floor))])
        rows.append("".join(cells))
    return rows


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    scale: str  # what a full column means
    now: str  # the newest value, in words
    values: tuple[float | None, ...]
    top: float
    style: str  # a theme style for the bars ($error when the chart is alarming)


def backlog_chart(view: View) -> Chart:
    limit = view.status.backlog_limit if view.status else None
    peaks = tuple(None if w.status is None else w.backlog_peak for w in view.windows)
    known = [p for p in peaks if p is not None]
    newest = peaks[-1] if peaks else None
    limits = {w.status.backlog_limit for w in view.windows if w.status is not None}
    values: tuple[float | None, ...] = peaks
    if len(limits) > 1 and 0 not in limits:
        # The limit changed (64, then 8192): each window against the limit in
        # force then, so an overflow at 64 is as full as one at 8192.
        values = tuple(None if w.status is None or w.backlog_peak is None
                       else w.backlog_peak / w.status.backlog_limit for w in view.windows)
        top, scale = 1.0, "full = limit in force"
    elif limit:
        top, scale = float(limit), f"full = limit {limit}"
    else:
        top = float(max(known, default=0) or 1)
        scale = f"full = {short_number(top)} ({'unlimited' if limit == 0 else 'no limit known'})"
    at_limit = bool(limit) and newest is not None and newest >= limit
    share = share_text(newest, limit)
    pct = f" ({share})" if share else ""
    now = f"now {UNKNOWN}" if newest is None else \
        f"now {newest if newest < 100_000 else short_number(newest)}"
    return Chart(f"backlog peak / {seconds_text(view.interval)}", scale, f"{now}{pct}",
                 values, top, "$error" if at_limit else "$primary")


def rate_chart(view: View, name: str, attribute: str) -> Chart:
    rates = tuple(getattr(w, attribute) for w in view.windows)
    known = [r for r in rates if r is not None]
    top = max(known, default=0.0)
    newest = rates[-1] if rates else None
    alarming = bool(newest)
    if not known:
        # Never measured (no auditd socket to read): nothing to draw, and no
        # row of no-data marks growing by one a window (a repaint a second).
        scale, rates = "not measured", ()
    else:
        scale = f"full = {short_number(top)}/s" if top else "full = 1/s (all 0)"
    return Chart(name, scale, f"now {short_number(newest)}", rates, top or 1.0,
                 ("$error" if attribute == "lost_per_s" else "$warning") if alarming
                 else "$primary")


def lost_chart(view: View) -> Chart:
    return rate_chart(view, "lost/s", "lost_per_s")


def drops_chart(view: View) -> Chart:
    return rate_chart(view, "drops/s", "netlink_drops_per_s")


def chart_content(chart: Chart, width: int, height: int) -> Content:
    """Label column (name, scale, newest value) then the bars."""
    labels = [chart.name, chart.scale, chart.now][:height]
    if height < 3:  # name and newest value, then the scale
        labels = [f"{chart.name}  {chart.now}", chart.scale][:height]
    plot_width = max(width - LABEL_WIDTH - 1, 0)
    rows = bars(list(chart.values), plot_width, height, chart.top)
    lines = []
    for i, row in enumerate(rows):
        label = labels[i] if i < len(labels) else ""
        label = label[:LABEL_WIDTH].ljust(LABEL_WIDTH)
        style = "b" if i == 0 else "$text-muted"
        lines.append(Content.styled(label, style) + Content(" ")
                     + Content.styled(row, chart.style))
    return Content("\n").join(lines)


def time_axis(view: View, width: int) -> Content:
    """A row under the charts: `└-30s` under the window that closed 30 s
    before the newest, `now┘` under the newest, in the charts' own columns."""
    plot_width = max(width - LABEL_WIDTH - 1, 0)
    windows = view.windows[-plot_width:] if plot_width else ()
    cells = [" "] * plot_width
    if windows:
        pad = plot_width - len(windows)
        newest = windows[-1].end
        step = next((s for s in TICK_STEPS if s >= 10 * view.interval), TICK_STEPS[-1])
        taken = plot_width - 4  # `now┘` ends at the newest column
        cells[taken:] = "now┘"
        mark = 1
        for index in range(len(windows) - 1, -1, -1):
            age = newest - windows[index].end
            if age < mark * step - 1e-6:
                continue
            column = pad + index
            text = "└-" + tick_text(round(age))
            if column + len(text) < taken:  # a space before the next label
                cells[column:column + len(text)] = text
                taken = column
            mark = math.floor(age / step + 1e-6) + 1
    label = "time".ljust(LABEL_WIDTH)
    return Content.styled(label, "$text-muted") + Content(" ") + \
        Content.styled("".join(cells), "$text-muted")


TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def charts_content(view: View, width: int, height: int) -> Content:
    """Backlog, lost/s and drops/s on one time axis: every chart has the
    same label column and one column per window, newest at the right, so a
    window is in the same column in every chart. Tall enough (12 rows), the
    backlog chart takes the rest and a time axis is drawn under them."""
    charts = [backlog_chart(view), lost_chart(view), drops_chart(view)]
    if height >= AXIS_MIN_HEIGHT:
        plan = (height - 5, 2, 2)
    else:  # backlog 3 rows, lost 2, drops 2 when there is room (7 rows at 80x24)
        heights = {7: (3, 2, 2), 6: (2, 2, 2), 5: (3, 2, 0), 4: (2, 2, 0), 3: (2, 1, 0),
                   2: (1, 1, 0), 1: (1, 0, 0)}
        plan = heights.get(min(height, 7), (1, 0, 0))
        if height > 7:
            plan = (height - 4, 2, 2)
    parts = [chart_content(c, width, h) for c, h in zip(charts, plan) if h]
    if height >= AXIS_MIN_HEIGHT:
        parts.append(time_axis(view, width))
    return Content("\n").join(parts)


class Charts(ViewWidget):
    """Backlog, lost/s and drops/s. Heights come from the stylesheet."""

    def render_view(self, view: View) -> Content:
        width, height = self.content_size.width or 78, self.content_size.height or 7
        return charts_content(view, width, height)
