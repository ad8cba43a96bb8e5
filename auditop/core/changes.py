"""The one change path, shared by `auditop set` and the TUI: propose,
validate, guard, apply, read back, log. Pure but for the two callables it is
given (send a SET, wait for the next answered status).

The read-back is the next status the kernel answers after the SET, not a GET
of its own sent first: while the backlog is over its limit the kernel holds
the sender of every request, and auditop's sampling goes on through that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from auditop.core.errors import AuditError, AuditLocked
from auditop.core.model import AuditStatus
from auditop.core.settings import U32_MAX

FIELD = "backlog_limit"  # the setting the TUI's keys steer
READ_BACK_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Proposal:
    field: str
    old: int | None
    new: int
    why: str  # "double", "halve", "exact value", "restore the value found at start"


@dataclass(frozen=True, slots=True)
class SetAck:
    """The kernel's answer to one AUDIT_SET (every source returns one)."""

    field: str
    value: int
    acked: bool  # the ACK arrived (else: the sender was held before it could be read)
    held: bool  # the kernel is holding the sender: the backlog is over the (new) limit


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    field: str
    old: int | None
    requested: int
    new: int | None  # read back from the kernel's next answer (None: no answer yet)
    held: bool

    @property
    def as_asked(self) -> bool:
        return self.new == self.requested

    def text(self) -> str:
        if self.new is None:
            said = (f"{self.field}: {self.old} -> {self.requested} applied (the kernel took "
                    "it), not read back yet: the kernel has not answered a status since")
        elif self.as_asked:
            said = f"{self.field}: {self.old} -> {self.new} (read back from the kernel)"
        else:
            said = (f"{self.field}: asked for {self.requested}, the kernel reads back "
                    f"{self.new}")
        if self.held:
            said += ("; the kernel is holding auditop's sender: the backlog is still over "
                     "the limit")
        return said


class NoProposal(Exception):
    """Why a key proposes nothing (already there, unlimited, ...): a notice."""


class PanicRisk(AuditError):
    """failure = 2 and a change that can turn waiting into lost records."""

    exit_code = 2

    def __init__(self, risks: tuple[str, ...]) -> None:
        self.risks = risks
        super().__init__(
            "refused: failure = 2 makes the first lost record panic the machine, and "
            f"this change can lose records ({'; '.join(risks)})")


# -- proposing ------------------------------------------------------------------

def propose(action: str, status: AuditStatus | None, *, found: int | None = None,
            step: int = 2, field: str = FIELD) -> Proposal:
    """What a key proposes: 'double', 'halve' or 'restore' (to `found`)."""
    old = getattr(status, field) if status is not None else None
    if old is None:
        raise NoProposal(f"{field} is not known yet: no answer from the kernel")
    if action == "double":
        if old == 0:
            raise NoProposal(f"{field} is 0 (unlimited): press b to set a value")
        return Proposal(field, old, min(old * step, U32_MAX), "double")
    if action == "halve":
        if old <= 1:
            raise NoProposal(f"{field} is {old}: it cannot be halved")
        return Proposal(field, old, old // step, "halve")
    if action == "restore":
        if found is None:
            raise NoProposal(f"auditop has not read {field} yet")
        if old == found:
            raise NoProposal(f"{field} is already {found}, the value found at start")
        return Proposal(field, old, found, "restore the value found at start")
    raise ValueError(f"unknown action {action!r}")


def risks(proposal: Proposal, status: AuditStatus | None) -> tuple[str, ...]:
    """The ways this change can turn processes waiting into records lost."""
    old, new, found = proposal.old, proposal.new, []
    if proposal.field == "backlog_limit" and new != 0 and (old is None or old == 0
                                                           or new < old):
        found.append(f"a lower backlog_limit ({new}) fills sooner, and then records are lost")
        backlog = status.backlog if status is not None else None
        if backlog is not None and backlog > new:
            found.append(f"the backlog ({backlog}) is already over {new}")
    if proposal.field == "rate_limit" and new > 0:
        found.append(f"records above rate_limit {new}/s are lost")
    if proposal.field == "backlog_wait_time":
        if new == 0:
            found.append("backlog_wait_time 0 loses records at once when the backlog is full, "
                         "instead of making processes wait")
        elif old is not None and new < old:
            found.append(f"a shorter backlog_wait_time ({new}) gives up on waiting sooner, "
                         "and then records are lost")
    return tuple(found)


def guard(proposal: Proposal, status: AuditStatus | None, *, panic_confirmed: bool) -> None:
    """Refuse what cannot or must not be done without a further word."""
    if status is not None and status.enabled == 2:
        raise AuditLocked()
    if status is not None and status.failure == 2 and not panic_confirmed:
        if found := risks(proposal, status):
            raise PanicRisk(found)


# -- applying ---------------------------------------------------------------------

def apply(proposal: Proposal, *, send: Callable[[str, int], SetAck],
          next_answer: Callable[[float, float], AuditStatus | None],
          status: AuditStatus | None, panic_confirmed: bool = False,
          log: Callable[[str, int | None, int | None, str], object] | None = None,
          clock: Callable[[], float] = time.monotonic,
          timeout: float = READ_BACK_TIMEOUT) -> ChangeOutcome:
    """Guard, send the SET, read the value back from the next status the
    kernel answers after it (`next_answer(after, timeout)`), log the result.
    A failure is logged and raised; AuditLocked when the kernel refused
    because audit got locked in between."""
    guard(proposal, status, panic_confirmed=panic_confirmed)
    # Read back from a poll sent once the kernel has answered the SET (its
    # ACK, its error, or holding its sender all come after processing it): a
    # poll sent while the SET's sender had not yet run can read the old value.
    try:
        ack = send(proposal.field, proposal.new)
    except AuditError as error:
        refused_at = clock()
        after = next_answer(refused_at, timeout) if getattr(error, "errno", None) == 1 else None
        if after is not None and after.enabled == 2:
            error = AuditLocked()
        if log is not None:
            log(proposal.field, proposal.old, proposal.new, str(error))
        raise error from None
    answer = next_answer(clock(), timeout)
    new = getattr(answer, proposal.field) if answer is not None else None
    outcome = ChangeOutcome(proposal.field, proposal.old, proposal.new, new, ack.held)
    if log is not None:
        log(proposal.field, proposal.old, new, "ok" if outcome.as_asked else outcome.text())
    return outcome
