"""Every change goes through this dialog: old -> new, the memory it may
take, what it risks, and how long a live change lasts. `y`/Enter apply,
`n`/Escape cancel. With failure = 2, a change that can lose records needs a
second dialog that names the panic, answered with a different key (P), so
no habit of pressing y twice can panic a machine."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from auditop.core.changes import Proposal
from auditop.core.memory import TYPICAL_RECORD_BYTES, backlog_memory, describe_backlog_memory
from auditop.core.settings import DESCRIPTIONS
from auditop.core.text import bytes_text, count_text

RULES_FILE = "/etc/audit/rules.d/audit.rules"


def memory_text(limit: int | None) -> str:
    estimate = backlog_memory(limit)
    if estimate is None:
        return describe_backlog_memory(limit)
    typical, worst = estimate
    return (f"~{bytes_text(typical)} typical ({TYPICAL_RECORD_BYTES} bytes a "
            f"record), up to {bytes_text(worst)}")


def proposal_content(p: Proposal, risks: tuple[str, ...] = ()) -> Content:
    """The dialog's text (pure, for tests)."""
    old = count_text(p.old)
    lines = [
        Content.from_markup(f"[b]Change {p.field}[/] ({escape(p.why)})"),
        Content.styled(DESCRIPTIONS.get(p.field, ""), "$text-muted"),
        Content(""),
        Content.from_markup(f"  [b]{old}[/]  ->  [b reverse]{p.new}[/]"),
        Content(""),
    ]
    if p.field == "backlog_limit":
        lines.append(Content(f"memory when full: {memory_text(p.new)}"))
        lines.append(Content.styled("  as much again in the retry queue (and the hold queue, "
                                    "booted with audit=1)", "$text-muted"))
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
    for risk in risks:
        lines += [Content(""), Content.styled(f"risk: {risk}", "b $warning")]
    lines += [Content(""),
              Content.from_markup("[b reverse] y [/] or [b reverse] Enter [/] apply     "
                                  "[b reverse] n [/] or [b reverse] Esc [/] cancel")]
    return Content("\n").join(lines)


def panic_content(p: Proposal, risks: tuple[str, ...]) -> Content:
    lines = [
        Content.styled("failure = 2: this change can PANIC the machine", "b reverse $error"),
        Content(""),
        Content(f"{p.field} {p.old} -> {p.new} can lose audit records:"),
        *[Content(f"  - {risk}") for risk in risks],
        Content(""),
        Content("With failure = 2 the kernel calls panic() on the first lost record: the "
                "machine crashes and everything on it stops."),
        Content(""),
        Content.from_markup("[b reverse] P [/] apply anyway     "
                            "[b reverse] n [/] or [b reverse] Esc [/] cancel"),
    ]
    return Content("\n").join(lines)


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (apply) or False (cancel)."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "apply", id="confirm.apply"),
        Binding("n,escape", "answer(False)", "cancel", id="confirm.cancel"),
    ]
    TITLE_TEXT = "confirm change"

    def __init__(self, proposal: Proposal, risks: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.proposal, self.risks = proposal, risks

    def content(self) -> Content:
        return proposal_content(self.proposal, self.risks)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog", classes="dialog"):
            yield Static(self.content(), id="confirm-text")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self.TITLE_TEXT
        self.app.clear_notifications()  # older notices say nothing about this decision

    def action_answer(self, apply: bool) -> None:
        self.dismiss(apply)


class PanicConfirmScreen(ConfirmScreen):
    """The second confirmation under failure = 2: only P applies."""

    BINDINGS = [
        Binding("P", "answer(True)", "apply anyway", id="panic.apply"),
        Binding("n,escape", "answer(False)", "cancel", id="panic.cancel"),
        # The first dialog's keys must not fall through to the screen below.
        Binding("y,enter", "hint", "", show=False, id="panic.hint"),
    ]
    TITLE_TEXT = "failure = 2: panic risk"

    def action_hint(self) -> None:
        self.notify("This one needs P (capital) to apply, n or Esc to cancel",
                    severity="warning")

    def content(self) -> Content:
        return panic_content(self.proposal, self.risks)
