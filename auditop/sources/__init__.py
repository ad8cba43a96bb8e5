"""Where Samples come from: live (the kernel), scripted (tests and
screenshots). Each implements auditop.core.source.Source."""

from __future__ import annotations

from auditop.core.changes import SetAck
from auditop.core.source import Source

__all__ = ["SetAck", "Source"]
