"""What every source of Samples does: the live kernel, the scripted source
of the tests and screenshots, the demo simulator. The Monitor and the
commands never know which one they have.

- poll() -> Sample: may block (the real kernel can make a sender sleep);
  called from the Monitor's thread, never from the UI thread. Raises
  SendersHeld when it could not even ask (the kernel holds every sender).
- set(field, value) -> SetAck: send one change; reading it back is the
  Monitor's (the next answered status). Raises AuditError.
"""

from __future__ import annotations

from typing import Protocol

from auditop.core.changes import SetAck
from auditop.core.model import Sample


class Source(Protocol):
    def poll(self) -> Sample: ...

    def set(self, field: str, value: int) -> SetAck: ...

    def close(self) -> None: ...
