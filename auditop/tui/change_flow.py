"""The change workflow of the live screen (and the demo's): propose, ask for a
value, confirm (twice, naming the panic, when failure = 2 and the change can
lose records), apply on a worker through the Monitor's change path, read
back from the kernel's next answer, log, and say what happened.

One small piece over the shared change path (core/changes.py, the Monitor's
`change`): the screen asks it to propose and handles the two messages it
posts back (ChangeApplied, ChangeFailed).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from auditop.changelog import append_change
from auditop.core import changes
from auditop.core.changes import FIELD, NoProposal, Proposal
from auditop.core.errors import AuditError
from auditop.tui.messages import ChangeApplied, ChangeFailed
from auditop.tui.screens.confirm import ConfirmScreen, PanicConfirmScreen
from auditop.tui.screens.value import ValueScreen

if TYPE_CHECKING:
    from textual.screen import Screen

    from auditop.core.model import AuditStatus
    from auditop.core.monitor import Monitor, Snapshot

CHANGE_ACTIONS = frozenset({"double", "halve", "exact", "restore"})


class ChangeFlow:
    """Proposes and applies changes of backlog_limit for `screen`, which
    handles ChangeApplied / ChangeFailed. `snapshot()` is the newest snapshot
    (the proposal starts from the status shown); `monitor()` applies."""

    def __init__(self, screen: Screen, *, snapshot: Callable[[], Snapshot | None],
                 monitor: Callable[[], Monitor | None], change_log: Path | None,
                 step: int = 2) -> None:
        self.screen = screen
        self._snapshot = snapshot
        self._monitor = monitor
        self.change_log = change_log
        self.step = step

    def _status(self) -> AuditStatus | None:
        snapshot = self._snapshot()
        return snapshot.status if snapshot else None

    def propose(self, action: str) -> None:
        """`double`, `halve` or `restore` (the value found at start); `exact`
        asks for the value first."""
        if action == "exact":
            self._ask_value()
            return
        snapshot = self._snapshot()
        found = snapshot.found if snapshot else None
        try:
            proposal = changes.propose(action, self._status(),
                                       found=found.backlog_limit if found else None,
                                       step=self.step)
        except NoProposal as notice:
            self.screen.notify(str(notice), severity="warning" if action != "restore"
                               else "information")
            return
        self._confirm(proposal)

    def _ask_value(self) -> None:
        status = self._status()
        old = status.backlog_limit if status else None

        def chosen(value: int | None) -> None:
            if value is not None:
                self._confirm(Proposal(FIELD, old, value, "exact value"))
        self.screen.app.push_screen(ValueScreen(FIELD, old), chosen)

    def _confirm(self, proposal: Proposal) -> None:
        risks = changes.risks(proposal, self._status())
        self.screen.app.push_screen(ConfirmScreen(proposal, risks),
                                    partial(self._confirmed, proposal, risks))

    def _confirmed(self, proposal: Proposal, risks: tuple[str, ...], apply: bool | None
                   ) -> None:
        if not apply:
            self.screen.notify(f"cancelled: {proposal.field} unchanged", timeout=3)
            return
        status = self._status()
        if status is not None and status.failure == 2 and risks:
            self.screen.app.push_screen(PanicConfirmScreen(proposal, risks),
                                        partial(self._panic_confirmed, proposal))
            return
        self._start(proposal, panic_confirmed=False)

    def _panic_confirmed(self, proposal: Proposal, apply: bool | None) -> None:
        if not apply:
            self.screen.notify(f"cancelled: {proposal.field} unchanged", timeout=3)
            return
        self._start(proposal, panic_confirmed=True)

    def _start(self, proposal: Proposal, *, panic_confirmed: bool) -> None:
        self.screen.run_worker(partial(self._apply, proposal, panic_confirmed), thread=True,
                               group="change", exit_on_error=False,
                               name=f"set {proposal.field}")

    def _apply(self, proposal: Proposal, panic_confirmed: bool) -> None:
        """On a worker thread: the change path waits for the kernel's read-back."""
        problems: list[str] = []

        def log(field: str, old: int | None, new: int | None, result: str) -> None:
            try:
                append_change(field, old, new, result, path=self.change_log)
            except OSError as error:  # ChangeLogUnwritable: one line, where and why
                problems.append(f"the change log could not be written: {error}")
        try:
            outcome = self._monitor().change(proposal, panic_confirmed=panic_confirmed,
                                             log=log)
        except AuditError as error:
            self.screen.post_message(ChangeFailed(proposal, error,
                                                  problems[0] if problems else None))
            return
        self.screen.post_message(ChangeApplied(outcome, problems[0] if problems else None))
