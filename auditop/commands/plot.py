"""`auditop plot FILE`: a recording's backlog peak against backlog_limit and
its lost records per second, as text sized to the terminal or written to a
file (export/plot.py draws it). --from / --to draw a stretch of it
(core/timespec.py): the file is read only up to --to. FILE "-" reads stdin;
-o - writes the plain text to stdout."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from auditop.commands.common import PROBLEMS_SHOWN, USAGE_ERROR, print_problems
from auditop.core.errors import AuditError

STDOUT = "-"


def run(args: argparse.Namespace) -> int:
    return plot(args.file, output=args.output, width=args.width, height=args.height,
                start=args.time_from, end=args.time_to)


def plot(path: Path, *, output: Path | None, width: int | None, height: int | None,
         start=None, end=None) -> int:
    """`start`, `end`: the TimeSpecs of --from and --to (None: not given)."""
    from auditop.core.timespec import AFTER, BEFORE, BadRange, Stretch
    from auditop.export.plot import PlotPoint, color_wanted, plot_text
    from auditop.sources.recording import NotARecording, Skipped, iter_recording, shown

    stretch = Stretch(start, end)
    points, problems, count, skipped = [], [], 0, 0
    try:
        for item in iter_recording(path):
            if isinstance(item, str):
                if stretch.active and not stretch.taken:
                    continue  # before the stretch: none of its business
                count += 1
                skipped += isinstance(item, Skipped)
                if len(problems) < PROBLEMS_SHOWN:
                    problems.append(item)
                continue
            verdict = stretch.take(item.time, item.seconds)
            if verdict == AFTER:
                break  # past --to: the rest is not read
            if verdict == BEFORE:
                continue
            limit = item.status.backlog_limit if item.status else None
            points.append(PlotPoint(item.time, item.backlog_peak, item.lost_per_s, limit))
        stretch.finish()
    except (NotARecording, BadRange) as error:
        print(f"auditop: {error}", file=sys.stderr)
        return USAGE_ERROR
    print_problems(Path(shown(path)), count, problems, skipped)  # "-": "stdin"
    size = shutil.get_terminal_size((80, 25))
    width = width or size.columns
    height = height or max(size.lines - 2, 12)  # the prompt after it: one or two lines
    to_stdout = output is not None and os.fspath(output) == STDOUT
    color = output is None and color_wanted(sys.stdout)
    text = plot_text(points, width, height, color)
    if output is None or to_stdout:
        print(text)  # -o -: the plain text of a report, to stdout
        return 0
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise AuditError(f"cannot write {output}: {error.strerror or error}") from None
    print(output)
    return 0
