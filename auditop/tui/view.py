"""What the screen shows, built from the Monitor's Snapshot by a pure function.

The app builds one frozen View when a snapshot arrives (or its own state
changes: pause, a change blocked) and hands it down to the widgets, which
only render it. Tests build Views from scripted samples and check the
rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from auditop.core.drift import SettingChange
from auditop.core.findings import Finding
from auditop.core.history import Window
from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.monitor import Snapshot
from auditop.core.producers import WindowProducers

if TYPE_CHECKING:  # the live TUI starts without the replay reader
    from auditop.sources.replay import ReplayState

# Beyond this a "rising" backlog is noise, not a forecast worth a line.
FORECAST_HORIZON = 900.0
# ...and a backlog below this fraction of its limit is not worth one either.
FORECAST_MIN_FILL = 0.05
CHART_WINDOWS = 240  # windows kept for the charts (wider than any terminal)


@dataclass(frozen=True, slots=True)
class View:
    now: float  # wall clock (the app's injectable clock)
    status: AuditStatus | None  # newest answered status
    system: SystemInfo | None  # newest sample's system info
    window: Window | None  # newest closed window in which the kernel answered
    windows: tuple[Window, ...]  # recent closed windows, oldest first
    findings: tuple[Finding, ...]
    forecast: float | None  # seconds until the backlog reaches its limit, if rising
    silent_for: float  # > 0: the kernel has not answered for this long
    silent_error: str | None
    paused: bool
    interval: float
    sample_rate: float
    read_only: bool
    blocked: str | None  # why changes are unavailable, if they are
    found_limit: int | None  # backlog_limit when auditop started
    answered_at: float | None = None  # wall clock of the newest answer
    held_senders: int = 0  # of auditop's senders, how many the kernel holds asleep now
    held_for: float = 0.0  # the longest, seconds
    demo: bool = False  # the simulated machine of `auditop --demo`
    replay: ReplayState | None = None  # `auditop replay`: where in the recording
    setting_changes: tuple[SettingChange, ...] = ()  # changed underneath auditop lately
    can_ask_state: bool = False  # a key asks auditd for a state report
    backlog_peak: int | None = None  # shown beside the backlog: never below it (build_view)
    # Who produced the records (issue 16): the newest window that counted any,
    # and how long before the newest window that was (the listener runs 1 s
    # in 5 while records are lost). None: not counted.
    producers: WindowProducers | None = None
    producers_age: float = 0.0

    @property
    def throttled(self) -> bool:
        return self.held_senders > 0

    @property
    def stale(self) -> bool:
        return self.silent_for > 0

    @property
    def panic(self) -> bool:
        return self.status is not None and self.status.failure == 2

    @property
    def at_limit(self) -> bool:
        """The backlog shown is at (or over) its limit now."""
        status = self.status
        return bool(status is not None and status.backlog_limit and status.backlog is not None
                    and status.backlog >= status.backlog_limit)


def build_view(snapshot: Snapshot, *, now: float, paused: bool, read_only: bool,
               blocked: str | None, demo: bool = False,
               replay: ReplayState | None = None, can_ask_state: bool = False) -> View:
    """`now` is the wall clock of the title line: in a replay, the recording's."""
    windows = snapshot.windows[-CHART_WINDOWS:]
    status = snapshot.status
    window = snapshot.window
    peak = shown_peak(window, snapshot.last_answered)
    forecast = snapshot.forecast
    if forecast is not None and (forecast > FORECAST_HORIZON or not status or
                                 not status.backlog_limit or peak is None or
                                 peak < FORECAST_MIN_FILL * status.backlog_limit):
        forecast = None
    latest = snapshot.latest
    return View(
        now=now,
        status=status,
        system=snapshot.system,
        window=window,
        windows=windows,
        findings=snapshot.findings,
        forecast=forecast,
        silent_for=(max(snapshot.silent_for, latest.poll_seconds)
                    if snapshot.silent_for > 0 and latest else 0.0),
        silent_error=snapshot.silent_error,
        paused=paused,
        interval=snapshot.interval,
        sample_rate=snapshot.sample_rate,
        read_only=read_only,
        blocked=blocked,
        found_limit=snapshot.found.backlog_limit if snapshot.found else None,
        answered_at=snapshot.last_answered.time if snapshot.last_answered else None,
        held_senders=snapshot.held_senders,
        held_for=snapshot.held_for,
        demo=demo,
        replay=replay,
        setting_changes=snapshot.setting_changes,
        can_ask_state=can_ask_state and not read_only and replay is None,
        backlog_peak=peak,
        producers=snapshot.producers,
        producers_age=snapshot.producers_age,
    )


def shown_peak(window: Window | None, answered: Sample | None) -> int | None:
    """The peak shown beside the backlog: the newest closed window's, or the
    backlog answered since it closed when that is higher (the status is
    newer than the window: a flood that began after it, the demo's panic),
    so a peak is never below the backlog it is shown with. None (shown
    "?") until a window has closed."""
    if window is None:
        return None  # no window has closed yet: "peak ?"
    peak = window.backlog_peak
    status = answered.status if answered is not None else None
    if status is None or status.backlog is None or answered.mono <= window.last.mono:
        return peak  # nothing newer (the window holds that answer already)
    return status.backlog if peak is None else max(peak, status.backlog)
