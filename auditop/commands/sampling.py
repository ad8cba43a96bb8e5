"""The Monitor over the live kernel, as the sampling commands (status,
check, set, record, exporter) run it. pyroute2 is imported only when a
source is made. The commands call `sampling.live_source()` through the
module, so tests put a scripted kernel in its place."""

from __future__ import annotations

import math
import sys
import time

from auditop.core.errors import AuditError

FIRST_ANSWER_TIMEOUT = 3.0


def monitor(settings, source, **kwargs):
    """A Monitor over `source` at the settings' rate and thresholds."""
    from auditop.core.monitor import Monitor
    return Monitor(source, rate_hz=settings.sample_rate, thresholds=settings.thresholds,
                   **kwargs)


def live_source(*, ticker: bool = False):
    """`ticker`: a long run, whose polls a child may pace (sources/live.py)."""
    from auditop.sources.live import LiveSource  # pyroute2 only when the kernel is asked
    return LiveSource(ticker=ticker)


def count_producers(source):
    """Have `source` count who produces the records (issue 16: `status`,
    `record`, the exporter and the TUI do; `check` and `set` do not), where
    it can; the source."""
    count = getattr(source, "count_producers", None)
    if count is not None:
        count()
        why = getattr(source, "producers_unavailable", None)
        if why:
            print(f"auditop: {why}", file=sys.stderr)  # once: the figures say "log"
    return source


def sample_once(settings, window: float, source=None, *, producers: bool = False):
    """Sample for `window` seconds: one window over the whole span, and the
    final snapshot. Finishes when the window does, whatever the kernel holds.
    `producers`: count who produces the records over the window too."""
    source = source or live_source()
    if producers:
        count_producers(source)
    try:
        snapshot = monitor(settings, source, interval=math.inf).run(window)
    finally:
        source.close()
    last = snapshot.windows[-1] if snapshot.windows else None
    if last is None or last.status is None:
        error = last.error if last is not None else None
        raise AuditError(error or f"no answer from the kernel within {window:g} s")
    return last, snapshot


def first_answer(running):
    """The kernel's first status through a started Monitor; AuditError if
    none comes within FIRST_ANSWER_TIMEOUT."""
    deadline = time.monotonic() + FIRST_ANSWER_TIMEOUT
    while (status := running.snapshot().status) is None:
        if running.failure is not None:
            raise running.failure
        if time.monotonic() > deadline:
            latest = running.snapshot().latest
            raise AuditError(latest.error if latest and latest.error else
                             f"no answer from the kernel within {FIRST_ANSWER_TIMEOUT:g} s")
        time.sleep(0.02)
    return status
