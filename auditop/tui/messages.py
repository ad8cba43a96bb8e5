"""Messages that carry data into the UI thread: small frozen-ish dataclasses.

The sampler's thread and the change workers post these; handlers on the app
feed History and refresh the widgets. Nothing here touches a widget.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from auditop.core.model import Sample
from auditop.kernel.errors import AuditError
from auditop.kernel.results import SetResult


@dataclass
class Sampled(Message):
    """Polls' answers, oldest first (never replaced: every sample counts for
    the peaks). The sampler batches a quarter second of them per message: a
    message wakes the UI, and waking it 4 times a second instead of 10-20
    halves auditop's idle CPU."""

    samples: tuple[Sample, ...]


@dataclass
class SamplerFailed(Message):
    """The sampler stopped on an error no retry cures (not privileged, no audit)."""

    error: AuditError


@dataclass
class ChangeApplied(Message):
    """A change went through; `result.new` is the value read back."""

    result: SetResult
    logged: str | None = None  # why the change log could not be written, if it could not


@dataclass
class ChangeFailed(Message):
    field: str
    old: int | None
    new: int
    error: AuditError
    logged: str | None = None
