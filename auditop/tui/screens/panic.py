"""The demo's panic: failure = 2 met its first lost record.

On a real machine the kernel would have stopped everything here ("Kernel
panic - not syncing: audit: backlog limit exceeded") and rebooted. The demo
shows that instead, over the display frozen at that moment, and stays there
until it is reset (r) or quit (q).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from auditop.core.monitor import Snapshot
from auditop.tui.widgets.summary import clock_text

if TYPE_CHECKING:  # the live TUI starts without the simulator
    from auditop.sources.simulator import Panic


def panic_content(panic: Panic, snapshot: Snapshot | None) -> Content:
    status = snapshot.status if snapshot else None
    where = ""
    if status is not None and status.backlog_limit:
        where = f" (backlog {status.backlog} of its limit {status.backlog_limit})"
    lines = [
        Content.styled(f"Kernel panic - not syncing: {panic.reason}", "b $error"),
        Content.styled("(simulated: this is what the kernel would have done)", "$text-muted"),
        Content(""),
        Content(f"At {clock_text(panic.time)} a record could not be queued{where}. With "
                "failure = 2 the kernel does not lose a record and go on: it panics, and the "
                "machine stops with everything on it (it reboots if kernel.panic is set)."),
        Content(""),
        Content("Before choosing failure = 2 on a real machine: a backlog_limit that holds "
                "the longest burst, an auditd that keeps up (disk, flush, plugins) and a "
                "backlog_wait_time that makes processes wait instead of losing records."),
        Content(""),
        Content.styled("r  reset: reboot the simulated machine      q  quit", "b"),
    ]
    return Content("\n").join(lines)


class PanicScreen(ModalScreen[None]):
    """Covers the demo until reset; the display behind is frozen."""

    BINDINGS = [
        Binding("r", "reset", "reset", tooltip="reboot the simulated machine",
                id="panic.reset"),
        Binding("q", "quit_demo", "quit", id="panic.quit"),
    ]

    def __init__(self, panic: Panic, snapshot: Snapshot | None) -> None:
        super().__init__()
        self.panic = panic
        self._snapshot = snapshot

    def compose(self) -> ComposeResult:
        with Vertical(id="panic", classes="dialog"):
            yield Static(panic_content(self.panic, self._snapshot), id="panic-text")

    def on_mount(self) -> None:
        self.query_one("#panic").border_title = "PANIC (demo)"

    def action_reset(self) -> None:
        self.app.main.action_demo("demo.reset")  # the demo's screen, under this one

    def action_quit_demo(self) -> None:
        self.app.exit(0)
