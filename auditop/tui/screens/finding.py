"""One finding in full: what it means and what to do."""

from __future__ import annotations

from textual.binding import Binding

from auditop.core.findings import Finding
from auditop.tui.screens.text import TextScreen
from auditop.tui.widgets.findings import finding_detail


class FindingScreen(TextScreen):
    BINDINGS = [Binding("escape,enter", "close", "close", id="finding.close"),
                Binding("q", "app.quit", "quit", id="finding.quit")]

    def __init__(self, finding: Finding) -> None:
        super().__init__("finding (Esc: close)", finding_detail(finding), "finding-text")
        self.finding = finding
