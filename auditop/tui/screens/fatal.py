"""When auditop cannot watch at all (not privileged, no audit in the
kernel, inside a container): say what is needed, and quit with `q`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from auditop.core.errors import (AuditError, InternalError, NoAuditSupport,
                                 NotInitialPidNamespace, NotInitialUserNamespace,
                                 NotPrivileged)

ADVICE = {
    NotPrivileged: "auditop needs CAP_AUDIT_CONTROL: run as root (sudo auditop).",
    NoAuditSupport: "This kernel has no audit in it (CONFIG_AUDIT off or audit=0 on the "
                    "kernel command line): there is no backlog to watch.",
    NotInitialUserNamespace: "Run auditop on the host, not in a container.",
    NotInitialPidNamespace: "Run auditop on the host, not in a container.",
    InternalError: "This is a bug in auditop, not a problem of the kernel: please report "
                   "it with the line above.",
}


def fatal_content(error: AuditError) -> Content:
    advice = next((text for kind, text in ADVICE.items() if isinstance(error, kind)), None)
    lines = [Content.styled("auditop cannot watch the kernel", "b $error"), Content(""),
             Content(str(error))]
    if advice:
        lines += [Content(""), Content.styled(advice, "b")]
    lines += [Content(""), Content.styled("Press q to quit.", "$text-muted")]
    return Content("\n").join(lines)


class FatalScreen(Screen[None]):
    BINDINGS = [Binding("q,escape", "quit_fatal", "quit", id="fatal.quit")]

    def __init__(self, error: AuditError) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="fatal"):
            yield Static(fatal_content(self.error), id="fatal-text")

    def action_quit_fatal(self) -> None:
        self.app.exit(return_code=self.error.exit_code)
