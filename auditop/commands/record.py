"""`auditop record`: one JSON line per display window (docs/json.md), from
the live kernel or, with --demo, from the demo's tour. Both write their
lines through one writer, so a line is the same whichever machine it
describes. -o - writes the lines to stdout (for a pipe: `auditop record -o -
| auditop replay -`); without -o they go to a new file in the state
directory, whose path is printed at the end."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, TextIO

from auditop.commands import sampling


STDOUT = "-"
PANIC_TAIL = 0.3  # seconds the demo's recording goes on after the panic's window


def demo_seconds(interval: float) -> float:
    """How long `record --demo` takes: its tour's last step (the flood that
    panics the simulated machine at once), the panic's window, and a moment."""
    from auditop.sources.demo_actions import TOUR
    return TOUR[-1].at + interval + PANIC_TAIL


def demo_announcement(where: str, interval: float, duration: float | None) -> str:
    """"recording the 36 s demo to FILE (takes 36 s; Ctrl-C stops early)"."""
    whole = demo_seconds(interval)
    length = f"{round(whole)} s"
    if duration is not None and duration < whole:
        return (f"recording {duration:g} s of the {length} demo to {where} "
                f"(takes {duration:g} s; Ctrl-C stops early)")
    return f"recording the {length} demo to {where} (takes {length}; Ctrl-C stops early)"


def run(args: argparse.Namespace) -> int:
    path = args.output
    if path is None:
        from auditop.paths import state_dir
        path = state_dir() / time.strftime("record-%Y%m%d-%H%M%S.jsonl")
    where = "stdout" if os.fspath(path) == STDOUT else str(path)
    if args.demo:
        return _record(path, demo_announcement(where, args.settings.interval, args.duration),
                       lambda out: record_demo(out, settings=args.settings,
                                               duration=args.duration))
    source = sampling.live_source(ticker=True)
    if args.producers:
        sampling.count_producers(source)
    try:
        return _record(path, f"recording to {where}",
                       lambda out: sampling.monitor(args.settings, source,
                                           interval=args.settings.interval,
                                           on_window=line_writer(out)).run(args.duration),
                       # fail here, before any file exists, if the kernel refuses
                       first=source.poll)
    finally:
        source.close()


def _record(path: Path, announce: str, record: Callable[[TextIO], object],
            first: Callable[[], object] = lambda: None) -> int:
    """Append to `path` what `record` writes; the path on stdout when done.
    "-" is stdout: the lines alone there, and a reader that goes away (`|
    head`) ends the recording quietly."""
    if os.fspath(path) == STDOUT:
        first()
        print(announce, file=sys.stderr)
        try:
            record(sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # the reader has gone: nothing more to say, and nothing at exit either
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError as exc:
            print(f"auditop: cannot write stdout: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0
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
