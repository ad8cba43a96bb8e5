"""What a finding is, what every rule may look at (Facts), and how a rule is
registered: `@rule("id")` over a function Facts -> Found | None. The id is
written once, there; the registry (findings/__init__.py) derives the ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, NamedTuple

from auditop.core.history import History, Window
from auditop.core.model import AuditStatus, SystemInfo
from auditop.core.text import count_text, share_text

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

    @property
    def now(self) -> float | None:
        """The newest sample's time."""
        latest = self.history.latest
        return latest.time if latest is not None else None


class Found(NamedTuple):
    """What a rule says; the registry adds the rule's id."""

    severity: Severity
    title: str
    detail: str
    remedy: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule: its id, the stage it watches (its module) and the
    check. Calling it gives the Finding, or None."""

    id: str
    check: Callable[[Facts], Found | None]

    @property
    def stage(self) -> str:
        return self.check.__module__.rsplit(".", 1)[-1]

    def __call__(self, facts: Facts) -> Finding | None:
        found = self.check(facts)
        return None if found is None else Finding(self.id, *found)


def rule(finding_id: str) -> Callable[[Callable[[Facts], Found | None]], Rule]:
    """`@rule("backlog-high")`: the function becomes a Rule with that id."""
    def register(check: Callable[[Facts], Found | None]) -> Rule:
        return Rule(finding_id, check)
    return register


def fill(backlog: int | None, limit: int | None) -> str:
    """"65 of the limit 64 (102%)": a backlog against its limit, in a sentence."""
    if backlog is None or limit is None:
        return f"{count_text(backlog)} of the limit {count_text(limit)}"
    if limit == 0:
        return f"{backlog} (limit 0: unlimited)"
    return f"{backlog} of the limit {limit} ({share_text(backlog, limit)})"
