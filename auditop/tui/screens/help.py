"""`?`: every key, generated from the bindings so it cannot go stale."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content

from auditop.tui.screens.text import TextScreen

# Keys that belong to dialogs and lists rather than to the app's BINDINGS.
EXTRA_KEYS = [
    ("up / down", "move in the findings list"),
    ("Enter", "explain the highlighted finding (Esc closes it)"),
    ("y / Enter", "in a confirmation: apply the change"),
    ("n / Esc", "in a confirmation: cancel, nothing is written"),
    ("Esc", "close a dialog or this help"),
]

ABOUT = (
    "Each chart column is one display window: the backlog PEAK in it (so a short "
    "flood shows even between two refreshes), lost records per second and netlink "
    "drops per second on auditd's socket. The kernel is polled in the background at "
    "the sampling rate; when it stops answering the screen says so and keeps the "
    "last values, marked STALE. Changes are proposed, confirmed, applied, read back "
    "and logged to the change log."
)


def key_label(binding: Binding) -> str:
    names = {"question_mark": "?", "plus": "+", "minus": "-", "left_square_bracket": "[",
             "right_square_bracket": "]", "full_stop": ".", "escape": "Esc",
             "enter": "Enter"}
    return " / ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def help_content(bindings: list[Binding]) -> Content:
    rows = [(key_label(b), b.tooltip or b.description) for b in bindings] + EXTRA_KEYS
    width = max(len(k) for k, _ in rows) + 2
    lines = [Content.styled("Keys", "b")]
    lines += [Content.styled(f"  {key:<{width}}", "b $accent") + Content(text)
              for key, text in rows]
    lines += [Content(""), Content.styled("What you see", "b"), Content(ABOUT)]
    return Content("\n").join(lines)


class HelpScreen(TextScreen):
    BINDINGS = [Binding("escape,question_mark,q", "close", "close", id="help.close")]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__("auditop help (Esc: close)", help_content(bindings), "help-text",
                         classes="dialog help")
        self.bindings = bindings
