"""`W`: who fills the queue, in full (issue 16). One list of the newest
window that counted records, by the dimension the keys choose: rule key
(k), process name (c), executable (e), record type (t), syscall (s), login
user (a), rule as loaded (r). Each entry its share, rate and records,
largest first, top 10 and `other`. Redrawn as snapshots arrive; W or Esc
closes it. Advice only: the finding `one-producer-dominates` says what to
narrow or exclude; nothing here changes a rule.
"""

from __future__ import annotations

from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from auditop.core.producers import WindowProducers
from auditop.core.text import seconds_text, share_text, short_number

# (dimension, key, label): the order the keys are listed in.
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("by_key", "k", "rule key"), ("by_comm", "c", "process"), ("by_exe", "e", "executable"),
    ("by_type", "t", "record type"), ("by_syscall", "s", "syscall"),
    ("by_auid", "a", "login user"), ("by_rule", "r", "rule"),
)


def producers_text(producers: WindowProducers | None, dimension: str, age: float = 0.0,
                   width: int = 76) -> str:
    """The screen's text: a header line, the keys, then one line per entry."""
    label = next(label for name, _, label in DIMENSIONS if name == dimension)
    keys = "  ".join(f"{key} {lab}" for name, key, lab in DIMENSIONS)
    if producers is None or not producers.records:
        return (f"who fills the queue, by {label}\n{keys}\n\n"
                "nothing counted yet: no record has arrived since the listener opened, "
                "or nobody counts them (the audit multicast listener needs "
                "CAP_AUDIT_READ; a recording made before producers were recorded)")
    notes = [f"source {producers.source}"]
    if producers.listened < 0.995:
        notes.append(f"listened {share_text(producers.listened, 1)} of the window")
    if producers.sampled < 0.995:
        notes.append(f"sampled {share_text(producers.sampled, 1)} (estimates)")
    if producers.missed:
        notes.append(f"{producers.missed} missed by the listener")
    if age >= 0.5:
        notes.append(f"{seconds_text(round(age))} ago")
    lines = [f"who fills the queue, by {label}: {short_number(producers.records)} records, "
             f"{short_number(producers.per_s)}/s ({', '.join(notes)})", keys, "",
             f"{'share':>6} {'per s':>7} {'records':>9}  {label}"]
    name_width = max(width - 26, 10)
    for entry in getattr(producers, dimension):
        name = entry.name if len(entry.name) <= name_width else entry.name[:name_width - 1] + "…"
        lines.append(f"{share_text(entry.share, 1):>6} {short_number(entry.per_s):>7} "
                     f"{entry.records:>9}  {name}")
    return "\n".join(lines)


class ProducersScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,W", "close", "close", id="producers.close"),
                Binding("q", "app.quit", "quit", id="producers.quit")] + [
        Binding(key, f"dimension('{name}')", label, id=f"producers.{name}")
        for name, key, label in DIMENSIONS]

    def __init__(self, producers: Callable[[], tuple[WindowProducers | None, float]]) -> None:
        super().__init__()
        self._producers = producers
        self.dimension = "by_key"

    def compose(self) -> ComposeResult:
        yield Static("", id="producers-text")

    def on_mount(self) -> None:
        self.query_one("#producers-text").border_title = "producers (W / Esc: close)"
        self.redraw()

    def redraw(self) -> None:
        """Draw the newest producers (the app calls it as snapshots arrive)."""
        producers, age = self._producers()
        text = self.query_one("#producers-text", Static)
        text.update(Content(producers_text(producers, self.dimension, age,
                                           text.content_size.width or 76)))

    def action_dimension(self, name: str) -> None:
        self.dimension = name
        self.redraw()

    def action_close(self) -> None:
        self.dismiss(None)
