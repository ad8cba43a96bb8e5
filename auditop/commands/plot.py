"""`auditop plot FILE`: a recording's backlog peak against backlog_limit and
its lost records per second, as text sized to the terminal or written to a
file (export/plot.py draws it)."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from auditop.commands.common import PROBLEMS_SHOWN, USAGE_ERROR, print_problems
from auditop.core.errors import AuditError


def run(args: argparse.Namespace) -> int:
    return plot(args.file, output=args.output, width=args.width, height=args.height)


def plot(path: Path, *, output: Path | None, width: int | None, height: int | None) -> int:
    from auditop.export.plot import PlotPoint, color_wanted, plot_text
    from auditop.sources.recording import NotARecording, Skipped, iter_recording

    points, problems, count, skipped = [], [], 0, 0
    try:
        for item in iter_recording(path):
            if isinstance(item, str):
                count += 1
                skipped += isinstance(item, Skipped)
                if len(problems) < PROBLEMS_SHOWN:
                    problems.append(item)
                continue
            limit = item.status.backlog_limit if item.status else None
            points.append(PlotPoint(item.time, item.backlog_peak, item.lost_per_s, limit))
    except NotARecording as error:
        print(f"auditop: {error}", file=sys.stderr)
        return USAGE_ERROR
    print_problems(path, count, problems, skipped)
    size = shutil.get_terminal_size((80, 25))
    width = width or size.columns
    height = height or max(size.lines - 2, 12)  # the prompt after it: one or two lines
    color = output is None and color_wanted(sys.stdout)
    text = plot_text(points, width, height, color)
    if output is None:
        print(text)
        return 0
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        raise AuditError(f"cannot write {output}: {error.strerror}") from None
    print(output)
    return 0
