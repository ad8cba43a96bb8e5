"""The base of every widget that shows the View: a thin wrapper around a
pure function View -> Content."""

from __future__ import annotations

from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from auditop.tui.view import View


class ViewWidget(Widget):
    """Renders `view` with a pure function. Repaints only when what it shows
    changes (a steady screen then costs no compositing), and asks for a new
    layout (costly: the whole screen) only when the number of lines it needs
    changes."""

    view: reactive[View | None] = reactive(None, always_update=True, repaint=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines = 0
        self._content: tuple[Size, Content] | None = None  # (size, content) shown

    def render_view(self, view: View) -> Content:
        raise NotImplementedError

    def render(self) -> Content:
        if self.view is None:
            return Content("")
        size = self.content_size
        if self._content is None or self._content[0] != size:
            self._content = (size, self.render_view(self.view))
        return self._content[1]

    def watch_view(self, view: View | None) -> None:
        size = self.content_size
        content = self.render_view(view) if view is not None else Content("")
        if self._content is not None and _same(self._content, (size, content)):
            return
        self._content = (size, content)
        width = max(size.width, 1)
        lines = sum(max(1, -(-line.cell_length // width)) for line in content.split("\n"))
        self.refresh(layout=lines != self._lines)
        self._lines = lines


def _same(a: tuple[Size, Content], b: tuple[Size, Content]) -> bool:
    # Content's == compares the text only; a style can change alone.
    return a[0] == b[0] and a[1].plain == b[1].plain and a[1].spans == b[1].spans
