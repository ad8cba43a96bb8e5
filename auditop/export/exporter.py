"""`auditop exporter`: a Monitor samples underneath at auditop's rate, and its
numbers go out over HTTP (`/metrics`) or into a textfile for node_exporter.

At each scrape (or file write) the Reading is made from a snapshot taken then
and `Monitor.take_peak()`, the highest backlog since the previous scrape: the
burst a 15 s scrape would miss. The exporter only reads; nothing here sends
a SET. Both loops run until `stop` is set (the CLI sets it on SIGINT and
SIGTERM) or the Monitor fails, and then return.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from pathlib import Path
from typing import Callable

from auditop.core.text import url_host
from auditop.core.monitor import Monitor
from auditop.core.producers import ProducerTotals
from auditop.export.prometheus import Reading, reading, serve, write_textfile

WAKE_S = 0.5  # how often the loops look at `stop` and the Monitor's health


# Records per key and type since the exporter started: one per Monitor
# (the counters' running totals; each window added once).
_totals: weakref.WeakKeyDictionary[Monitor, ProducerTotals] = weakref.WeakKeyDictionary()
_totals_lock = threading.Lock()


def scrape(monitor: Monitor, hz: int | None) -> Reading:
    """One scrape's Reading. The snapshot is taken first, then the peak, so the
    peak covers every sample the snapshot has seen."""
    snapshot = monitor.fresh_snapshot()
    with _totals_lock:  # scrapes may come from several threads at once
        totals = _totals.setdefault(monitor, ProducerTotals())
        return reading(snapshot, peak=monitor.take_peak(), hz=hz, totals=totals)


def listen_url(host: str, port: int) -> str:
    return f"http://{url_host(host)}:{port}/metrics"


def run_http(monitor: Monitor, host: str, port: int, *, hz: int | None,
             stop: threading.Event, announce: Callable[[str], None]) -> None:
    """Serve /metrics until `stop`; OSError if the address cannot be bound."""
    server = serve(host, port, lambda: scrape(monitor, hz))
    try:
        announce(f"auditop exporter: listening on {listen_url(server.host, server.port)}")
        _wait(monitor, stop, None)
    finally:
        server.shutdown()


def run_textfile(monitor: Monitor, path: Path, every: float, *, hz: int | None,
                 stop: threading.Event, announce: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
    """Replace `path` every `every` seconds until `stop` (the first time as soon
    as the kernel has answered, at the latest after `every`). OSError if the
    file cannot be written."""
    announce(f"auditop exporter: writing {path} every {every:g} s")
    first_by = clock() + every
    while monitor.snapshot().status is None and clock() < first_by:
        if _wait(monitor, stop, 0.05):
            return
    next_at = clock()
    while True:
        write_textfile(path, scrape(monitor, hz))
        next_at = max(next_at + every, clock())
        if _wait(monitor, stop, next_at - clock()):
            return


def _wait(monitor: Monitor, stop: threading.Event, seconds: float | None) -> bool:
    """Wait `seconds` (None: for ever); True when it is time to end: `stop` was
    set or the Monitor failed (its error is in monitor.failure)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        if stop.is_set() or monitor.failure is not None:
            return True
        left = WAKE_S if deadline is None else min(WAKE_S, deadline - time.monotonic())
        if left <= 0:
            return False
        stop.wait(left)


def check_textfile(path: Path) -> str | None:
    """Why node_exporter would not read `path`, or None."""
    if path.suffix != ".prom":
        return f"{path}: node_exporter's textfile collector reads only *.prom files"
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        return f"{path}: no such directory {directory}"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"{path}: cannot write in {directory} (the temporary file goes there)"
    return None
