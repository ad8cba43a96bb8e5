"""Synthetic `auditop record` files, written by the real writer
(auditop/export/json.py window_object) over synthetic windows: a healthy
machine with a burst now and then, one line per 1 s window."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from auditop.core.findings import evaluate
from auditop.core.history import History, Window
from auditop.export.json import window_object
from auditop.sources.scripted import samples

LIMIT = 8192  # the windows' backlog_limit


def base_window() -> tuple[Window, tuple]:
    """A real window (and its findings) from the scripted healthy machine."""
    history = History(interval=1.0)
    closed = [w for w in map(history.add, samples("healthy", 2.5)) if w is not None]
    return closed[-1], tuple(evaluate(history))


def windows(count: int, start: float = 1_700_000_000.0) -> list[tuple[Window, tuple]]:
    """`count` consecutive 1 s windows: the backlog swells every 10 minutes,
    hits the limit for a few seconds every hour and loses records there."""
    window, findings = base_window()
    status = replace(window.status, backlog_limit=LIMIT)
    out, lost = [], 0
    for i in range(count):
        peak = int(200 + 150 * math.sin(i / 600 * 2 * math.pi)) if i % 600 < 590 else 6000
        losing = i % 3600 in range(1800, 1805)
        if losing:
            peak = LIMIT
            lost += 40_000
        out.append((replace(
            window, start=start + i, end=start + i + 1, backlog_peak=peak,
            lost=40_000 if losing else 0, lost_per_s=40_000.0 if losing else 0.0,
            status=replace(status, backlog=min(peak, LIMIT), lost=lost)), findings))
    return out


def write(path: Path, seconds: int) -> Path:
    """A recording of `seconds` windows of 1 s at `path`."""
    with open(path, "w", encoding="utf-8") as out:
        for window, findings in windows(seconds):
            out.write(json.dumps(window_object(window, findings)) + "\n")
    return path
