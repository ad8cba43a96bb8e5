"""What a finding is and what its rules may look at, shared by the rule
modules (core/findings.py, core/pipeline_rules.py), and how they word a fact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from auditop.core.history import History, Window
from auditop.core.model import AuditStatus, SystemInfo

Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    severity: Severity
    title: str
    detail: str
    remedy: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"id": self.id, "severity": self.severity, "title": self.title,
                "detail": self.detail, "remedy": self.remedy}


@dataclass(frozen=True, slots=True)
class Thresholds:
    rmem_default: int = 8 * 1024 * 1024  # bytes; auditd's socket buffer for bursts
    backlog_limit: int = 8192  # upstream base rules, STIG and CIS
    backlog_warning: float = 0.5  # fraction of backlog_limit reached by the window's peak
    backlog_critical: float = 0.8
    q_depth: int = 512  # auditd itself warns below this


DEFAULT = Thresholds()


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules may look at; any part can be None."""

    history: History
    window: Window | None  # newest closed window
    status: AuditStatus | None  # newest answered status
    system: SystemInfo | None  # newest sample's
    limits: Thresholds

    @property
    def hz(self) -> int | None:
        return self.system.hz if self.system else None


# --- wording helpers --------------------------------------------------------

def sysctl_rmem(limits: Thresholds) -> str:
    return f"sysctl -w net.core.rmem_default={limits.rmem_default}"


def fill(backlog: int | None, limit: int | None) -> str:
    if backlog is None or limit is None:
        return f"{text(backlog)} of the limit {text(limit)}"
    if limit == 0:
        return f"{backlog} (limit 0: unlimited)"
    return f"{backlog} of the limit {limit} ({100 * backlog / limit:.0f}%)"


def limit_text(limit: int) -> str:
    return "0 (unlimited)" if limit == 0 else str(limit)


def unlimited_last(limit: int) -> float:
    return float("inf") if limit == 0 else limit


def per_s(rate: float | None) -> str:
    return "" if rate is None else f" ({rate:.1f}/s)"


def bytes_text(n: int | None) -> str:
    if n is None:
        return "unknown"
    if n >= 1024 * 1024:
        return f"{n} bytes ({n / 1024 / 1024:.1f} MiB)"
    return f"{n} bytes ({n // 1024} KiB)"


def text(value: int | None) -> str:
    return "unknown" if value is None else str(value)
