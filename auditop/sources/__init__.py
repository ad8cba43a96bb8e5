"""Where Samples come from. Every source has the same two verbs, so the
sampler, the recorder and the TUI never know whether the kernel is real.

- poll() -> Sample: may block (the real kernel can make the caller sleep);
  called from the sampler's thread, never from the UI thread.
- set(field, value) -> SetResult: change one setting and read it back;
  raises auditop.kernel.errors.AuditError with a message for a person.
"""

from __future__ import annotations

from typing import Protocol

from auditop.core.model import Sample
from auditop.kernel.results import SetResult


class Source(Protocol):
    def poll(self) -> Sample: ...

    def set(self, field: str, value: int) -> SetResult: ...

    def close(self) -> None: ...


__all__ = ["SetResult", "Source"]
