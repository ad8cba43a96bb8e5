"""Every change goes through this dialog: old -> new, the memory it may
take, and how long a live change lasts. `y`/Enter apply, `n`/Escape cancel."""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from auditop.core.memory import backlog_memory, describe_backlog_memory, format_bytes
from auditop.core.settings import DESCRIPTIONS

RULES_FILE = "/etc/audit/rules.d/audit.rules"


@dataclass(frozen=True, slots=True)
class Proposal:
    field: str
    old: int | None
    new: int
    why: str  # "double", "halve", "exact value", "restore the value found at start"


def memory_text(limit: int | None) -> str:
    estimate = backlog_memory(limit)
    if estimate is None:
        return describe_backlog_memory(limit)
    typical, worst = estimate
    return f"~{format_bytes(typical)} typical, up to {format_bytes(worst)}"


def proposal_content(p: Proposal) -> Content:
    """The dialog's text (pure, for tests)."""
    old = "?" if p.old is None else str(p.old)
    lines = [
        Content.from_markup(f"[b]Change {p.field}[/] ({escape(p.why)})"),
        Content.styled(DESCRIPTIONS.get(p.field, ""), "$text-muted"),
        Content(""),
        Content.from_markup(f"  [b]{old}[/]  ->  [b reverse]{p.new}[/]"),
        Content(""),
    ]
    if p.field == "backlog_limit":
        lines.append(Content(f"memory when full: {memory_text(p.new)}"))
        lines.append(Content.styled(f"  now: {memory_text(p.old)}", "$text-muted"))
        lines += [
            Content(""),
            Content("A live change lasts until reboot, or until the rules are reloaded "
                    "with their own -b. To keep it, put this line in " + RULES_FILE + ":"),
            Content.styled(f"    -b {p.new}", "b $accent"),
            Content("and boot with the kernel parameter:"),
            Content.styled(f"    audit_backlog_limit={p.new}", "b $accent"),
        ]
    else:
        lines.append(Content("A live change lasts until reboot or until the rules are "
                             "reloaded."))
    lines += [Content(""),
              Content.from_markup("[b reverse] y [/] or [b reverse] Enter [/] apply     "
                                  "[b reverse] n [/] or [b reverse] Esc [/] cancel")]
    return Content("\n").join(lines)


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (apply) or False (cancel)."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "apply", id="confirm.apply"),
        Binding("n,escape", "answer(False)", "cancel", id="confirm.cancel"),
    ]

    def __init__(self, proposal: Proposal) -> None:
        super().__init__()
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog"):
            yield Static(proposal_content(self.proposal), id="confirm-text")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = "confirm change"

    def action_answer(self, apply: bool) -> None:
        self.dismiss(apply)
