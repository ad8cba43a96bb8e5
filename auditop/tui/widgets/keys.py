"""A footer line for the keys of a mode (the demo's, the replay's).

Textual's Footer shows the keys every mode has; this line shows the bindings
whose id starts with the mode's prefix, flowed over as many lines as the
width needs (the demo has a dozen). Key names come from the app, so a
remapped key shows as remapped; a key unavailable now is dimmed.
"""

from __future__ import annotations

from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

from auditop.tui.widgets.summary import flow


class ModeKeys(Widget):
    def __init__(self, prefix: str, label: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.prefix, self.label = prefix, label
        self._shown: Content | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        self._shown = None
        self.refresh(layout=True)

    def keys(self) -> list[Content]:
        """In the order of the screen's bindings; those check_action hides are
        left out. Behind a dialog (whose keys are the only ones that work)
        every one is dimmed."""
        behind = self.screen is not self.app.screen
        active = {b.id: (b, enabled and not behind)  # as remapped by a keymap, if it was
                  for _, b, enabled, _ in self.screen.active_bindings.values()}
        if behind:  # a dialog's keys are the only ones: this mode's keys, all off
            active = {b.id: (b, False) for b in self.screen.mode_bindings()}
        items = []
        for declared in self.screen.mode_bindings():
            if not (declared.id or "").startswith(self.prefix) or declared.id not in active:
                continue
            binding, enabled = active[declared.id]
            key = Content.styled(self.app.get_key_display(binding), "b $accent")
            item = key + Content(" ") + Content(binding.description)
            items.append(item if enabled else item.stylize("dim"))
        return items

    def render(self) -> Content:
        if self._shown is None:
            self._shown = flow([(self.label, self.keys())], self.content_size.width or 78)
        return self._shown
