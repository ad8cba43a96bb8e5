"""`auditop record`: one JSON line per display window (docs/json.md), from
the live kernel or, with --demo, from the demo's tour. Both write their
lines through one writer, so a line is the same whichever machine it
describes."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Callable, TextIO

from auditop.commands import sampling


def run(args: argparse.Namespace) -> int:
    path = args.output
    if path is None:
        from auditop.paths import state_dir
        path = state_dir() / time.strftime("record-%Y%m%d-%H%M%S.jsonl")
    if args.demo:
        return _record(path, f"recording the demo to {path}",
                       lambda out: record_demo(out, settings=args.settings,
                                               duration=args.duration))
    source = sampling.live_source()
    if args.producers:
        sampling.count_producers(source)
    try:
        return _record(path, f"recording to {path}",
                       lambda out: sampling.monitor(args.settings, source,
                                           interval=args.settings.interval,
                                           on_window=line_writer(out)).run(args.duration),
                       # fail here, before any file exists, if the kernel refuses
                       first=source.poll)
    finally:
        source.close()


def _record(path: Path, announce: str, record: Callable[[TextIO], object],
            first: Callable[[], object] = lambda: None) -> int:
    """Append to `path` what `record` writes; the path on stdout when done."""
    try:
        first()
        with open(path, "a", encoding="utf-8") as out:
            print(announce, file=sys.stderr)
            record(out)
    except OSError as exc:
        print(f"auditop: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(path)
    return 0


def line_writer(out: TextIO) -> Callable[[object, object], None]:
    """The Monitor's on_window for a recording: each closed window as one
    line, with its findings and the settings changed underneath auditop."""
    from auditop.export.json import window_object

    def write(window, snapshot) -> None:
        out.write(json.dumps(window_object(window, snapshot.findings,
                                           snapshot.setting_changes)) + "\n")
        out.flush()  # a killed recorder loses at most this window
    return write


def record_demo(out: TextIO, *, settings, duration: float | None) -> None:
    """`auditop record --demo`: the demo's tour recorded like a live machine
    (the same Monitor and lines); ends a window after the tour's panic, or
    after `duration`."""
    from auditop.sources.demo import DemoSource
    from auditop.sources.demo_actions import TOUR, take_tour

    source = DemoSource()
    interval = settings.interval
    running = sampling.monitor(settings, source, interval=interval, on_window=line_writer(out))
    done = threading.Event()

    def tour() -> None:
        started = last = time.monotonic()
        while not done.wait(0.05):
            now = time.monotonic() - started
            for said in take_tour(source, last - started, now):
                print(f"demo: {said}", file=sys.stderr)
            last = started + now
            if source.panicked is not None:
                print("demo: the simulated machine panicked; recording stopped",
                      file=sys.stderr)
                done.wait(interval + 0.3)  # the window of the panic is written too
                running.stop()
                return
            if now > TOUR[-1].at + 60:  # nothing more will happen
                return

    thread = threading.Thread(target=tour, name="auditop-demo-tour", daemon=True)
    thread.start()
    try:
        running.run(duration)
    finally:
        done.set()
        thread.join(timeout=1)
