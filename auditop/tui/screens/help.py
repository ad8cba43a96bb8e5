"""`?`: every key, generated from the bindings so it cannot go stale. The keys
are the ones Textual has bound now (a `[keymap]` in the config file remaps
them), spelt the way the footer spells them."""

from __future__ import annotations

from typing import Iterable

from textual.app import App
from textual.binding import Binding
from textual.content import Content

from auditop.tui.screens.text import TextScreen

# Keys that belong to dialogs and lists rather than to the app's BINDINGS.
EXTRA_KEYS = [
    ("up / down", "move in the findings list"),
    ("Enter", "explain the highlighted finding (Esc closes it)"),
    ("y / Enter", "in a confirmation: apply the change"),
    ("n / Esc", "in a confirmation: cancel, nothing is written"),
    ("P", "in the second confirmation when failure = 2: apply anyway"),
    ("Esc", "close a dialog or this help"),
]

ABOUT = (
    "Each chart column is one display window: the backlog PEAK in it (so a short "
    "flood shows even between two refreshes), lost records per second and netlink "
    "drops per second on auditd's socket. The kernel is polled in the background at "
    "the sampling rate. While the backlog is over its limit the kernel holds every "
    "process that talks to audit, auditop too: the screen says THROTTLED and the "
    "values stay real. When the kernel stops answering at all, the screen says so "
    "and keeps the last values, marked STALE. Changes are proposed, confirmed, "
    "applied, read back from the kernel's next answer and logged to the change log. "
    "With --demo all this runs on a simulated machine (its keys act on it; nothing "
    "real is touched); a replay shows a recording's windows as they were, at its "
    "own pace, and changes nothing."
)


def key_label(binding: Binding, app: App) -> str:
    """The keys that run `binding` now, from the app's active bindings (the keymap
    applied), as the footer shows them (App.get_key_display)."""
    action = binding.action.removeprefix("app.")
    keys = [app.get_key_display(active.binding) for active in app.active_bindings.values()
            if active.binding.id == binding.id
            and active.binding.action.removeprefix("app.") == action]
    return " / ".join(keys) or "(no key)"


def help_rows(bindings: Iterable[Binding], app: App) -> list[tuple[str, str]]:
    """(keys, what they do) for each binding: ask while the app's screen is active,
    before the help screen covers its bindings."""
    return [(key_label(b, app), b.tooltip or b.description) for b in bindings]


def help_content(binding_rows: list[tuple[str, str]]) -> Content:
    rows = list(binding_rows) + EXTRA_KEYS
    width = max(len(k) for k, _ in rows) + 2
    lines = [Content.styled("Keys", "b")]
    lines += [Content.styled(f"  {key:<{width}}", "b $accent") + Content(text)
              for key, text in rows]
    # A description wider than the dialog wraps under its text, not under the keys:
    # short tooltips keep it to one line at 80 columns.
    lines += [Content(""), Content.styled("What you see", "b"), Content(ABOUT)]
    return Content("\n").join(lines)


class HelpScreen(TextScreen):
    BINDINGS = [Binding("escape,question_mark", "close", "close", id="help.close"),
                Binding("q", "app.quit", "quit", id="help.quit")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__("auditop help (Esc: close)", help_content(rows), "help-text",
                         classes="dialog help")
        self.rows = rows
