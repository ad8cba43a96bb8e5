"""Section 2: the live TUI's steady state at 80x24 in a pty, beside
`top -d 1` on the same pty set-up, with the budget of issue 9 (CPU and
first frame tightened by issue 15)."""

from __future__ import annotations

import re
import shutil
import sys

from tests.benchmarks.table import Budget, Figure, Section, unavailable
from tests.benchmarks.terminal import PtyRun, run_in_pty

AUDITOP, TOP = "auditop", "top -d 1"
# The first frame with real values: the kernel's answer in the audit row
# ("enabled 1 (on)"), which the screen shows only once the kernel answered.
AUDITOP_MARKER = re.compile(rb"enabled [0-9] \(")
TOP_MARKER = re.compile(rb"load average")
BUDGET = {
    "CPU": Budget(0.7, aim=0.5),
    "to the terminal": Budget(4096),
    "first frame": Budget(0.4),
    "peak RSS": Budget(80),
}
UNITS = {"CPU": "% of a core", "to the terminal": "B/s", "first frame": "s",
         "peak RSS": "MiB", "polls": "/s", "senders' RSS": "MiB"}


def measure(seconds: float = 20.0, warmup: float = 3.0, starts: int = 3) -> Section:
    """`seconds` of steady state after `warmup` s for each program (5 s
    pieces: the median, min and max are over the pieces); the first frame
    over that run and `starts` more starts of each."""
    command = [sys.executable, "-m", "auditop"]
    programs = {AUDITOP: (command, AUDITOP_MARKER), TOP: (["top", "-d", "1"], TOP_MARKER)}
    figures: list[Figure] = []
    notes = [f"{seconds:g} s of steady state after {warmup:g} s of warm-up, in 5 s "
             f"pieces; first frame: that run and {starts} more starts",
             "CPU: the process and its children (auditop's ticker and sender processes), "
             "every thread's /proc schedstat; polls: the children's writes, one a poll "
             "(/proc/PID/io); senders' RSS: the children's at the end, beside the "
             "process's own peak"]
    for name, (argv, marker) in programs.items():
        if shutil.which(argv[0]) is None:
            figures += [unavailable(name, metric, UNITS[metric], f"{argv[0]} not installed")
                        for metric in BUDGET]
            continue
        steady = run_in_pty(argv, marker=marker, warmup=warmup, seconds=seconds)
        firsts = [steady.first_frame]
        for _ in range(starts):
            firsts.append(run_in_pty(argv, marker=marker, warmup=10.0, seconds=0).first_frame)
        problem = _problem(name, steady)
        if problem:
            figures += [unavailable(name, metric, UNITS[metric], problem) for metric in BUDGET]
            continue
        figures += _figures(name, steady, [f for f in firsts if f is not None])
        if None in firsts:
            notes.append(f"{name}: no first frame within 10 s in "
                         f"{firsts.count(None)} of {len(firsts)} starts")
    return Section("The TUI at 80x24, steady state", tuple(figures), tuple(notes))


def _problem(name: str, run: PtyRun) -> str | None:
    if run.exited_early is not None:
        tail = run.tail.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"{name} exited ({run.exited_early}) before the end: {tail[0][:80]}"
    if not run.cpu_percent:
        return f"{name}: no steady-state piece measured"
    return None


def _figures(name: str, run: PtyRun, firsts: list[float]) -> list[Figure]:
    mine = name == AUDITOP
    anchors = (TOP,) if mine else ()

    def figure(metric: str, values) -> Figure:
        if not values:
            return unavailable(name, metric, UNITS[metric], "no frame with real values "
                               "within 10 s", anchors=anchors)
        return Figure(name, metric, UNITS[metric], tuple(values), anchors=anchors,
                      budget=BUDGET.get(metric) if mine else None)

    figures = [figure("CPU", run.cpu_percent), figure("to the terminal", run.bytes_per_s),
               figure("first frame", firsts), figure("peak RSS", (run.peak_rss_mib,))]
    if mine:
        figures += [figure("polls", run.polls_per_s),
                    figure("senders' RSS", (run.children_rss_mib,))]
    return figures
