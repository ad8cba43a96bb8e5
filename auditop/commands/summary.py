"""`auditop summary FILE`: the incidents in a recording (export/summary.py
finds them), as text or, with --json, one JSON document (docs/json.md).
FILE `-` is standard input. A file that is no recording: one line, exit 2;
damaged lines: said on stderr, as `plot` says them. A reader that stops
early (`| head`) ends it quietly, exit 1."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterator

from auditop.commands.common import PROBLEMS_SHOWN, USAGE_ERROR, print_problems


def run(args: argparse.Namespace) -> int:
    return summary(args.file, as_json=args.format == "json")


def summary(path: Path, *, as_json: bool) -> int:
    from auditop.export.summary import summarize, summary_object, summary_text
    from auditop.sources.recording import (NotARecording, RecordedWindow, Skipped,
                                           iter_recording, shown)

    name = shown(path)
    problems: list[str] = []
    count = skipped = 0

    def windows() -> Iterator[RecordedWindow]:
        nonlocal count, skipped
        for item in iter_recording(path):
            if isinstance(item, RecordedWindow):
                yield item
                continue
            count += 1
            skipped += isinstance(item, Skipped)
            if len(problems) < PROBLEMS_SHOWN:
                problems.append(item)

    try:
        found = summarize(windows())
    except NotARecording as error:
        print(f"auditop: {error}", file=sys.stderr)
        return USAGE_ERROR
    print_problems(Path(name), count, problems, skipped)
    text = json.dumps(summary_object(found, name)) if as_json else summary_text(found, name)
    print(text, flush=True)  # a reader that goes away (`| head`): cli.main
    return 0
