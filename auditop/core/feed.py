"""The feed: how a reader (the TUI) receives what a producer knows.

Two producers implement it: the Monitor (the live kernel and the demo's
simulator, core/monitor.py) and the replay's player (sources/replay.py).
A reader connects one sink, starts the feed, and from then on receives, on
the feed's own thread, one of three frozen things at a time:

- a Snapshot: everything the producer knows now (a newer one replaces an
  older one: none is needed twice);
- a Notice: one line for the user (a replay stepped past its end, damaged
  lines were skipped);
- a Failure: the feed stopped, with the error that stopped it (not
  privileged, no audit, or a bug, said as what it is).

`snapshot()` is the newest Snapshot, for the first frame and for tests
that drive a producer by hand. Nothing here knows about Textual: the TUI
turns each event into a message (tui/app.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, Union

if TYPE_CHECKING:
    from auditop.core.drift import SettingChange
    from auditop.core.findings import Finding
    from auditop.core.history import Window
    from auditop.core.model import AuditStatus, Sample, SystemInfo
    from auditop.core.producers import WindowProducers

# How many windows back the producers shown may be (the listener is open 1 s
# in 5 while records are lost; older counts are not shown as current).
PRODUCERS_KEPT = 10


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a producer knew at one moment. Frozen: safe to hand to any thread."""

    seq: int
    windows: tuple[Window, ...]  # closed windows, oldest first
    latest: Sample | None
    last_answered: Sample | None
    system: SystemInfo | None  # newest system info read
    findings: tuple[Finding, ...]
    silent_for: float  # > 0: the kernel has not answered for this long
    interval: float
    sample_rate: float
    found: AuditStatus | None  # the first status answered: what auditop found
    forecast: float | None  # seconds until the backlog reaches its limit, if rising
    setting_changes: tuple[SettingChange, ...] = ()  # changed underneath auditop, kept a while

    @property
    def status(self) -> AuditStatus | None:
        return self.last_answered.status if self.last_answered else None

    @property
    def window(self) -> Window | None:
        """The newest closed window in which the kernel answered."""
        return next((w for w in reversed(self.windows) if w.status is not None), None)

    @property
    def producers(self) -> WindowProducers | None:
        """Who produced the records of the newest closed window that counted
        any (issue 16). The listener runs 1 s in 5 while records are lost,
        so a window may have none: the last that had any is shown (its age:
        `producers_age`)."""
        window = self.producers_window
        return window.producers if window is not None else None

    @property
    def producers_window(self) -> Window | None:
        for window in reversed(self.windows[-PRODUCERS_KEPT:]):
            if window.producers is not None and window.producers.records:
                return window
        return None

    @property
    def producers_age(self) -> float:
        """Seconds between the newest window and the one `producers` is of."""
        window, newest = self.producers_window, self.windows[-1] if self.windows else None
        return max(newest.end - window.end, 0.0) if window and newest else 0.0

    @property
    def held_senders(self) -> int:
        return self.latest.held_senders if self.latest else 0

    @property
    def held_for(self) -> float:
        return self.latest.held_for if self.latest else 0.0

    @property
    def silent_error(self) -> str | None:
        return self.latest.error if self.silent_for > 0 and self.latest else None


@dataclass(frozen=True, slots=True)
class Notice:
    """One line for the user."""

    text: str


@dataclass(frozen=True, slots=True)
class Failure:
    """The feed stopped: the error no retry cures, or a bug."""

    error: BaseException


Event = Union[Snapshot, Notice, Failure]
Sink = Callable[[Event], None]


class Feed(Protocol):
    """What the TUI needs of a producer, and all of it."""

    def connect(self, sink: Sink) -> None:
        """Where every event goes from now on (called on the feed's thread,
        or on the caller's while nothing runs)."""

    def start(self) -> None:
        """Run on a thread of the feed's own; returns at once."""

    def stop(self) -> None:
        """Returns at once; the feed's thread ends within a moment."""

    def snapshot(self) -> Snapshot:
        """The newest snapshot."""


__all__ = ["Event", "Failure", "Feed", "Notice", "Sink", "Snapshot"]
