"""Messages that carry data into the UI thread: small dataclasses.

The Monitor's thread posts Snapshotted and MonitorFailed; the change worker
posts ChangeApplied and ChangeFailed. Nothing here touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from auditop.core.changes import ChangeOutcome, Proposal
from auditop.core.errors import AuditError
from auditop.core.monitor import Snapshot


@dataclass
class Snapshotted(Message):
    """What the Monitor knows now. A newer one replaces an older one still
    waiting: a snapshot holds everything, so none is needed twice."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Snapshotted)


@dataclass
class MonitorFailed(Message):
    """Sampling stopped: an error no retry cures (not privileged, no audit),
    or a bug, said as what it is."""

    error: AuditError


@dataclass
class ChangeApplied(Message):
    outcome: ChangeOutcome
    logged: str | None = None  # why the change log could not be written, if it could not


@dataclass
class ChangeFailed(Message):
    proposal: Proposal
    error: AuditError
    logged: str | None = None


@dataclass
class Notice(Message):
    """A line for the user from a player (a replay's step went past the end,
    damaged lines were skipped): shown as a notice."""

    text: str


@dataclass
class StateAsked(Message):
    """What asking auditd for a state report did, in one line."""

    said: str
