"""One finding in full: what it means and what to do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from auditop.core.findings import Finding
from auditop.tui.widgets.findings import finding_detail


class FindingScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "close", id="finding.close")]

    def __init__(self, finding: Finding) -> None:
        super().__init__()
        self.finding = finding

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog"):
            yield Static(finding_detail(self.finding), id="finding-text")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = "finding (Esc: close)"

    def action_close(self) -> None:
        self.dismiss(None)
