"""`auditop replay FILE`: the TUI over a recording, at its own pace. A file
that is no recording: one line, exit 2. Damaged lines: a notice in the TUI,
and the first of them on stderr once the TUI has closed.

--from / --to replay a stretch of it (core/timespec.py): a time outside the
recording is one line naming its span, exit 2. FILE "-" is stdin: a replay
reads back and forth in its file, and the TUI reads its keys from the
terminal, so stdin is read whole into a temporary file first (removed once
opened), then the terminal (/dev/tty) takes stdin's place for the keys."""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

from auditop.commands.common import (REPLAY_NEEDS_TERMINAL, USAGE_ERROR, print_problems,
                                     refuse_without_terminal)

STDIN = "-"


def run(args: argparse.Namespace) -> int:
    return replay(args.file, speed=args.speed, settings=args.settings,
                  start=args.time_from, end=args.time_to)


def replay(path: Path, *, speed: float, settings, start=None, end=None) -> int:
    """`start`, `end`: the TimeSpecs of --from and --to (None: not given)."""
    from auditop.core.timespec import BadRange, Stretch
    from auditop.sources.recording import NotARecording
    from auditop.sources.replay import ReplayPlayer

    from_stdin = os.fspath(path) == STDIN
    copy: str | None = None
    try:
        if from_stdin:
            copy = read_stdin()
        player = ReplayPlayer(copy or path, speed=speed, stretch=Stretch(start, end),
                              name="stdin" if from_stdin else None)
        player.open()
    except (NotARecording, BadRange) as error:
        said = str(error)
        if copy is not None and said.startswith(copy):  # the copy of stdin: named so
            said = "stdin" + said[len(copy):]
        print(f"auditop: {said}", file=sys.stderr)
        return USAGE_ERROR
    finally:
        if copy is not None:  # the player keeps it open: it reads on after the name is gone
            os.unlink(copy)
    if from_stdin:
        keys_from_terminal()
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
    print_problems(Path("stdin") if from_stdin else path, count, first, player.skipped)
    return app.return_code or 0


def read_stdin() -> str:
    """stdin, read to its end into a temporary file; its path. A terminal
    on stdin is refused (NotARecording): there is nothing to replay."""
    from auditop.sources.recording import NotARecording
    try:
        mode = os.fstat(0).st_mode
    except OSError as error:
        raise NotARecording(f"stdin: cannot read it: {error.strerror or error}") from None
    if os.isatty(0) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise NotARecording("stdin: not an auditop recording: a terminal or device (pipe "
                            "a recording in: `auditop replay - < FILE`)")
    if not stat.S_ISREG(mode):  # a pipe: a recorder may be writing it still
        print("auditop: reading the recording from stdin; the replay starts at its end",
              file=sys.stderr)
    with tempfile.NamedTemporaryFile(prefix="auditop-replay-", suffix=".jsonl",
                                     delete=False) as copy:
        try:
            with os.fdopen(os.dup(0), "rb") as stdin:
                shutil.copyfileobj(stdin, copy, 1024 * 1024)
        except OSError as error:
            os.unlink(copy.name)
            raise NotARecording(f"stdin: cannot read it: {error.strerror or error}") from None
    return copy.name


def keys_from_terminal() -> None:
    """Once stdin is read: the terminal in its place, where Textual reads the
    keys (the controlling terminal, else the one stderr or stdout is). Left
    as it is when there is none; the terminal check then refuses."""
    names = ["/dev/tty"] + [os.ttyname(fd) for fd in (2, 1) if os.isatty(fd)]
    for name in names:
        try:
            terminal = os.open(name, os.O_RDWR)
        except OSError:
            continue
        os.dup2(terminal, 0)
        os.close(terminal)
        return
