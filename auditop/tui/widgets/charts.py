"""Charts of the closed windows, newest at the right, each with its scale.

- backlog PEAK per window against backlog_limit (a full bar is the limit;
  a 150 ms flood inside a 1 s window still shows at the top),
- lost records per second,
- netlink drops per second on auditd's socket (where there is room).

Small screens get block sparklines (a pure function of the numbers); on a
tall screen the backlog chart is drawn by plotext with axes and the limit as
a line. Charts change only when a window closes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from textual.content import Content

from auditop.tui.view import View
from auditop.tui.widgets.base import ViewWidget

BLOCKS = " ▁▂▃▄▅▆▇█"
NO_DATA = "·"  # the kernel did not answer in that window
LABEL_WIDTH = 22
PLOT_MIN_HEIGHT = 8  # below this the backlog chart is a sparkline
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def compact(value: float | None) -> str:
    if value is None:
        return "?"
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


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
    if limit:
        top, scale = float(limit), f"full = limit {limit}"
    else:
        top = float(max(known, default=0) or 1)
        scale = f"full = {compact(top)} ({'unlimited' if limit == 0 else 'no limit known'})"
    at_limit = bool(limit) and newest is not None and newest >= limit
    pct = f" ({100 * newest / limit:.0f}%)" if limit and newest is not None else ""
    now = "now ?" if newest is None else f"now {newest if newest < 100_000 else compact(newest)}"
    return Chart(f"backlog peak / {view.interval:g} s", scale, f"{now}{pct}",
                 peaks, top, "$error" if at_limit else "$primary")


def rate_chart(view: View, name: str, attribute: str) -> Chart:
    rates = tuple(getattr(w, attribute) for w in view.windows)
    top = max((r for r in rates if r is not None), default=0.0)
    newest = rates[-1] if rates else None
    alarming = bool(newest)
    return Chart(name, f"full = {compact(top)}/s" if top else "full = 1/s (all 0)",
                 f"now {compact(newest)}", rates, top or 1.0,
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


def plot_backlog(view: View, width: int, height: int) -> str:
    """The backlog peaks with axes and the limit drawn as a line, by plotext
    (plain text: colours come from the stylesheet)."""
    import plotext as plt

    chart = backlog_chart(view)
    limit = view.status.backlog_limit if view.status else None
    points = [(i, v) for i, v in enumerate(chart.values) if v is not None]
    count = len(chart.values)
    plt.clf()
    plt.plotsize(max(width, 20), max(height, 5))
    plt.theme("clear")
    plt.frame(True)
    if points:
        xs = [(i - count + 1) * view.interval for i, _ in points]
        plt.plot(xs, [v for _, v in points], marker="braille")
        plt.xlim(min(xs[0], -view.interval), 0)
        ticks = sorted({round(xs[0]), round(xs[0] / 2), 0})
        plt.xticks(ticks, [f"{t:g}s" for t in ticks])
    if limit:
        plt.hline(limit)
    top = max([v for _, v in points] + [limit or 0, 1])
    plt.ylim(0, top * 1.08)
    yticks = sorted({0, round(top / 2), limit or round(top)})
    plt.yticks(yticks, [str(t) for t in yticks])
    plt.title(f"{chart.name}  {chart.now}  limit {limit if limit else 'none'} (line)")
    lines = _ANSI.sub("", plt.build()).splitlines()[:height]
    plt.clf()
    return "\n".join(lines + [""] * (height - len(lines)))


class Charts(ViewWidget):
    """Backlog, lost/s and drops/s. Heights come from the stylesheet; the
    backlog chart switches to plotext when it is tall enough."""

    def render_view(self, view: View) -> Content:
        width, height = self.content_size.width or 78, self.content_size.height or 7
        charts = [backlog_chart(view), lost_chart(view), drops_chart(view)]
        if height >= PLOT_MIN_HEIGHT + 4:  # plotext for the backlog, 2 rows each for the rest
            rest = height - 4
            plot = Content.styled(plot_backlog(view, width, rest), "$primary")
            parts = [plot] + [chart_content(c, width, 2) for c in charts[1:]]
            return Content("\n").join(parts)
        # backlog 3 rows, lost 2, drops 2 when there is room (7 rows at 80x24)
        heights = {7: (3, 2, 2), 6: (2, 2, 2), 5: (3, 2, 0), 4: (2, 2, 0), 3: (2, 1, 0),
                   2: (1, 1, 0), 1: (1, 0, 0)}
        plan = heights.get(min(height, 7), (1, 0, 0))
        if height > 7:
            plan = (height - 4, 2, 2)
        parts = [chart_content(c, width, h) for c, h in zip(charts, plan) if h]
        return Content("\n").join(parts)
