"""`g`: a full-screen chart of the history so far (export/plot.py, the same
drawing as `auditop plot`): the backlog peak of each window against the
limit, and lost records per second, over one time axis, drawn as steps
(a window's peak holds over the window; a jump is a vertical stroke). The
limit is an exact, labelled row; after a limit change (64, then 8192) the
backlog is drawn as a share of the limit in force in each window, which the
legend says, so an overflow at 64 is not flattened to zero by 8192.
Redrawn as the history grows (at most twice a second) and when the
terminal is resized; g or Esc closes it.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Static

from auditop.export.plot import MIN_HEIGHT, MIN_WIDTH, PlotPoint, plot_text

REDRAW_EVERY = 0.5  # seconds


class PlotScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,g", "close", "close", id="plot.close"),
                Binding("q", "app.quit", "quit", id="plot.quit")]

    def __init__(self, points: Callable[[], Sequence[PlotPoint]]) -> None:
        super().__init__()
        self._points = points
        self._drawn_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static("", id="plot-text")

    def on_mount(self) -> None:
        self.query_one("#plot-text").border_title = "history so far (g / Esc: close)"

    def on_resize(self, event: Resize) -> None:
        self.redraw(force=True)

    def redraw(self, force: bool = False) -> None:
        """Draw the points as they are now (the app calls it as they grow)."""
        if not force and time.monotonic() - self._drawn_at < REDRAW_EVERY:
            return
        self._drawn_at = time.monotonic()
        text = self.query_one("#plot-text", Static)
        width, height = text.content_size.width, text.content_size.height
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            text.update(Content(f"a chart needs at least {MIN_WIDTH}x{MIN_HEIGHT} characters"))
            return
        text.update(Content(plot_text(self._points(), width, height, color=False)))

    def action_close(self) -> None:
        self.dismiss(None)
