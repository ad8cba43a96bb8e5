"""A scrollable text dialog that any of its keys closes (help, a finding)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


class TextScreen(ModalScreen[None]):
    """Subclasses set BINDINGS for "close" (each with its own id)."""

    def __init__(self, title: str, content: Content, text_id: str,
                 classes: str = "dialog") -> None:
        super().__init__()
        self._title, self._content = title, content
        self._text_id, self._dialog_classes = text_id, classes

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes=self._dialog_classes):
            yield Static(self._content, id=self._text_id)

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self._title

    def action_close(self) -> None:
        self.dismiss(None)
