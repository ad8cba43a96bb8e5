"""Ask for one line of text, checked as it is typed, in the exact value
dialog's style (screens/value.py): the replay's jump to a time and its
search. Enter gives the text (when the check passes), Escape gives up."""

from __future__ import annotations

from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Static


class _Check(Validator):
    def __init__(self, check: Callable[[str], str | None]) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        why = self.check(value)
        return self.success() if why is None else self.failure(why)


class AskScreen(ModalScreen[str | None]):
    """`check(text)`: None when the text will do, else why not (one line)."""

    DEFAULT_CSS = """
    #ask-input {
        margin: 1 0 0 0;
    }
    #ask-error {
        color: $error;
        height: auto;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel", id="ask.cancel")]

    def __init__(self, title: str, prompt: str, *, placeholder: str, hint: str,
                 check: Callable[[str], str | None], value: str = "") -> None:
        super().__init__()
        self.title_text, self.prompt, self.placeholder = title, prompt, placeholder
        self.hint, self.check, self.value = hint, check, value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(self.prompt, id="ask-prompt")
            yield Input(self.value, placeholder=self.placeholder, id="ask-input",
                        validators=[_Check(self.check)], validate_on=["changed", "submitted"])
            yield Static("", id="ask-error")
            yield Static(f"Enter: {self.hint}   Esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#dialog").border_title = self.title_text

    @on(Input.Changed)
    def show_check(self, event: Input.Changed) -> None:
        result = event.validation_result
        message = "" if result is None or result.is_valid or not event.value else \
            "; ".join(result.failure_descriptions)
        self.query_one("#ask-error", Static).update(message)

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        why = self.check(event.value)
        if why is not None:
            self.query_one("#ask-error", Static).update(why)
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
