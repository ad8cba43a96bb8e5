"""What the screen shows, built from History by a pure function.

The app builds one frozen View when a window closes (or its own state
changes: pause, stall, a change blocked) and hands it down to the widgets,
which only render it. Tests build Views from scripted samples and check the
rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditop.core.findings import Finding
from auditop.core.history import History, Window, forecast_seconds_to_full
from auditop.core.model import AuditStatus, SystemInfo

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

    @property
    def stale(self) -> bool:
        return self.silent_for > 0

    @property
    def panic(self) -> bool:
        return self.status is not None and self.status.failure == 2


def build_view(history: History, findings: list[Finding], *, now: float, paused: bool,
               sample_rate: float, read_only: bool, blocked: str | None,
               found_limit: int | None) -> View:
    latest = history.latest
    windows = tuple(history.windows)[-CHART_WINDOWS:]
    answered = [w for w in windows if w.status is not None]
    status = history.last_answered.status if history.last_answered else None
    peak = answered[-1].backlog_peak if answered else None
    forecast = forecast_seconds_to_full(history)
    if forecast is not None and (forecast > FORECAST_HORIZON or not status or
                                 not status.backlog_limit or peak is None or
                                 peak < FORECAST_MIN_FILL * status.backlog_limit):
        forecast = None
    silent = latest is not None and latest.status is None
    return View(
        now=now,
        status=status,
        system=latest.system if latest else None,
        window=answered[-1] if answered else None,
        windows=windows,
        findings=tuple(findings),
        forecast=forecast,
        silent_for=max(history.silent_seconds, latest.poll_seconds) if silent else 0.0,
        silent_error=latest.error if silent else None,
        paused=paused,
        interval=history.interval,
        sample_rate=sample_rate,
        read_only=read_only,
        blocked=blocked,
        found_limit=found_limit,
        answered_at=history.last_answered.time if history.last_answered else None,
    )
