"""Ask for an exact value, validated as it is typed by the same rules as
`auditop set` (parse_setting). Enter proposes it, Escape gives up."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Static

from auditop.core.settings import DESCRIPTIONS, InvalidSetting, parse_setting


class SettingValidator(Validator):
    def __init__(self, field: str, hz: int | None = None) -> None:
        super().__init__()
        self.field, self.hz = field, hz

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_setting(self.field, value, hz=self.hz)
        except InvalidSetting as exc:
            return self.failure(str(exc))
        return self.success()


class ValueScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel", id="value.cancel")]

    def __init__(self, field: str, current: int | None, hz: int | None = None) -> None:
        super().__init__()
        self.field, self.current, self.hz = field, current, hz

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(f"New {self.field} (now {self.current}): "
                         f"{DESCRIPTIONS.get(self.field, '')}", id="value-prompt")
            yield Input(placeholder="a whole number, e.g. 8192", id="value-input",
                        validators=[SettingValidator(self.field, self.hz)],
                        validate_on=["changed", "submitted"])
            yield Static("", id="value-error")
            yield Static("Enter: continue to the confirmation   Esc: cancel",
                         classes="hint")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = f"set {self.field}"

    @on(Input.Changed)
    def show_validation(self, event: Input.Changed) -> None:
        result = event.validation_result
        message = "" if result is None or result.is_valid or not event.value else \
            "; ".join(result.failure_descriptions)
        self.query_one("#value-error", Static).update(message)

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        try:
            value = parse_setting(self.field, event.value, hz=self.hz)
        except InvalidSetting as exc:
            self.query_one("#value-error", Static).update(str(exc))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
