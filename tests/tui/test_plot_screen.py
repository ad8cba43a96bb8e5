"""`g`: the full-screen chart, read as text in the real screen."""

from __future__ import annotations

from pathlib import Path

from textual.app import App

import auditop.tui
from auditop.export.plot import PlotPoint
from auditop.tui.screens.plot import PlotScreen

START = 1_700_000_000.0


def limit_change():
    """An overflow at limit 64, then limit 8192 and a backlog of 500."""
    return ([PlotPoint(START + t, 65 if 10 <= t < 20 else 2, 0.0, 64) for t in range(40)]
            + [PlotPoint(START + t, 500, 0.0, 8192) for t in range(40, 100)])


class ChartApp(App):
    CSS_PATH = Path(auditop.tui.__file__).parent / "auditop.tcss"  # the app's own sizes


async def test_after_a_limit_change_an_overflow_at_64_is_at_the_limit_row():
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(PlotScreen(limit_change))
        await pilot.pause()
        lines = app.screen.query_one("#plot-text").render().plain.split("\n")
    assert lines[0].strip().startswith("backlog peak vs limit, ")  # the title first
    assert "as % of the backlog_limit in force (64 then 8192)" in lines[1]  # the scale, said
    limit = next(line for line in lines[2:] if "╌" in line)  # the row, not the legend
    assert limit.split("┤")[0].strip() == "100%"
    assert limit.count("─") >= 9  # the overflow at 64 (10 of 99 s) is drawn on the limit row
    zero = next(line for line in lines if line.strip().startswith("0%┤"))
    assert "└" in zero and "┘" in zero  # it rose from 0% and fell back: steps, not slopes
