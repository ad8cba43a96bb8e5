"""The commands that never touch the kernel: `--demo`, `record --demo`,
`replay`, `plot` and `web` (cli.py parses them and calls these).

None needs root. Textual and textual-serve are imported only by
the command that uses them; every error a user can cause is one line.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from auditop.core.errors import AuditError

PROBLEMS_SHOWN = 10  # damaged lines printed to stderr, the rest counted
NOT_A_RECORDING = 2  # exit code: bad input
NO_TERMINAL = 2  # exit code: the TUI was started without a terminal
DEFAULT_PORT = 8000
TUI_NEEDS_TERMINAL = ("the TUI needs a terminal; for a one-shot reading use `auditop status`, "
                      "for a log use `auditop record`")
REPLAY_NEEDS_TERMINAL = ("replay needs a terminal; `auditop plot FILE` draws a recording "
                         "as text")


def without_terminal(environ: dict[str, str] | None = None) -> bool:
    """True when the TUI would have no terminal to run in. Textual's driver
    reads keys from stdin and draws on stderr, so both must be one (else it
    writes its screen into a file or a pipe until killed); stdout too, since
    whoever redirects it wants output in a file, which the TUI never gives.
    A Textual driver named in TEXTUAL_DRIVER (textual-serve's web driver, for
    `auditop web`) needs none."""
    environ = os.environ if environ is None else environ
    if environ.get("TEXTUAL_DRIVER"):
        return False
    return not all(os.isatty(fd) for fd in (0, 1, 2))


def refuse_without_terminal(message: str) -> int | None:
    if without_terminal():
        print(f"auditop: {message}", file=sys.stderr)
        return NO_TERMINAL
    return None


def demo_tui(settings) -> int:
    """`auditop --demo`: the TUI over the simulator, through the same Monitor,
    with the resolved settings (auditop/config: thresholds, keymap, ...)."""
    from auditop.sources.demo import DemoSource
    from auditop.tui.app import AuditopApp

    app = AuditopApp(source=DemoSource(), demo=True, interval=settings.interval,
                     sample_rate=settings.sample_rate, read_only=settings.read_only,
                     thresholds=settings.thresholds, keymap=settings.keymap,
                     backlog_limit_step=settings.backlog_limit_step,
                     change_log=Path(os.devnull))  # the simulator's changes are no record
    app.run()
    return app.return_code or 0


def record_demo(out: TextIO, *, settings, duration: float | None) -> None:
    """`auditop record --demo`: the demo's tour recorded like a live machine
    (the same Monitor and lines); ends a window after the tour's panic, or
    after `duration`."""
    from auditop.core.monitor import Monitor
    from auditop.export.json import window_object
    from auditop.sources.demo import DemoSource
    from auditop.sources.demo_actions import TOUR, take_tour

    source = DemoSource()
    interval = settings.interval

    def write(window, snapshot) -> None:
        out.write(json.dumps(window_object(window, snapshot.findings)) + "\n")
        out.flush()

    monitor = Monitor(source, interval=interval, rate_hz=settings.sample_rate,
                      thresholds=settings.thresholds, on_window=write)
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
                monitor.stop()
                return
            if now > TOUR[-1].at + 60:  # nothing more will happen
                return

    thread = threading.Thread(target=tour, name="auditop-demo-tour", daemon=True)
    thread.start()
    try:
        monitor.run(duration)
    finally:
        done.set()
        thread.join(timeout=1)


def replay(path: Path, *, speed: float, settings) -> int:
    """`auditop replay FILE`: the TUI over the recording. A file that is no
    recording: one line, exit 2. Damaged lines: a notice in the TUI, and the
    first of them on stderr once the TUI has closed."""
    from auditop.sources.recording import NotARecording
    from auditop.sources.replay import ReplayPlayer

    player = ReplayPlayer(path, speed=speed)
    try:
        player.open()
    except NotARecording as error:
        print(f"auditop: {error}", file=sys.stderr)
        return NOT_A_RECORDING
    if (refused := refuse_without_terminal(REPLAY_NEEDS_TERMINAL)) is not None:
        player.close()
        return refused
    from auditop.tui.app import AuditopApp

    app = AuditopApp(player=player, keymap=settings.keymap)
    try:
        app.run()
    finally:
        player.close()
    count, first = player.problems
    _print_problems(path, count, first, player.skipped)
    return app.return_code or 0


def plot(path: Path, *, output: Path | None, width: int | None, height: int | None) -> int:
    """`auditop plot FILE`: the backlog peak against the limit and lost/s."""
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
        return NOT_A_RECORDING
    _print_problems(path, count, problems, skipped)
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


def _print_problems(path: Path, count: int, first: list[str], skipped: int) -> None:
    """The first problems (`count` in all: lines and findings skipped), then
    how many more, and how many lines were skipped in all."""
    for problem in first[:PROBLEMS_SHOWN]:
        print(f"auditop: {path}: {problem} (skipped)", file=sys.stderr)
    if count > PROBLEMS_SHOWN:
        from auditop.sources.recording import problems_text
        print(f"auditop: {path}: {count - PROBLEMS_SHOWN} more problems; in all "
              f"{problems_text(count, skipped)}", file=sys.stderr)


# -- the classroom web view -------------------------------------------------------

def web_command(*, demo: bool, replay_file: Path | None) -> tuple[list[str], str]:
    """The auditop command each browser gets, and what it shows. Never one
    that changes the kernel: live mode is --read-only."""
    base = [sys.executable, "-m", "auditop"]
    if demo:
        return base + ["--demo"], "the demo"
    if replay_file is not None:
        return base + ["replay", str(replay_file.resolve())], f"a replay of {replay_file}"
    return base + ["--read-only"], "this machine's kernel, read-only"


def web(*, demo: bool, replay_file: Path | None, host: str, port: int,
        public_url: str | None) -> int:
    """`auditop web`: serve the TUI to browsers with textual-serve (one
    auditop process per browser tab) until Ctrl-C."""
    if replay_file is not None:
        from auditop.sources.recording import NotARecording, iter_recording
        try:
            next(item for item in iter_recording(replay_file, seekable=True)
                 if not isinstance(item, str))
        except NotARecording as error:
            print(f"auditop: {error}", file=sys.stderr)
            return NOT_A_RECORDING
    try:
        from auditop.web import serve
    except ImportError as error:
        raise AuditError("auditop web needs textual-serve: pip install 'auditop[web]' "
                         f"({error})") from None
    command, what = web_command(demo=demo, replay_file=replay_file)
    url = public_url or f"http://{_url_host(host)}:{port}"
    # exec: the shell textual-serve starts becomes auditop, so stopping it stops auditop
    return serve("exec " + shlex.join(command), host=host, port=port, public_url=url,
                 banner=f"auditop web: serving {what} on {url} (Ctrl-C stops)")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
