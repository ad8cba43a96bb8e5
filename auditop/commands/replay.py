"""`auditop replay FILE`: the TUI over a recording, at its own pace. A file
that is no recording: one line, exit 2. Damaged lines: a notice in the TUI,
and the first of them on stderr once the TUI has closed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditop.commands.common import (REPLAY_NEEDS_TERMINAL, USAGE_ERROR, print_problems,
                                     refuse_without_terminal)


def run(args: argparse.Namespace) -> int:
    return replay(args.file, speed=args.speed, settings=args.settings)


def replay(path: Path, *, speed: float, settings) -> int:
    from auditop.sources.recording import NotARecording
    from auditop.sources.replay import ReplayPlayer

    player = ReplayPlayer(path, speed=speed)
    try:
        player.open()
    except NotARecording as error:
        print(f"auditop: {error}", file=sys.stderr)
        return USAGE_ERROR
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
    print_problems(path, count, first, player.skipped)
    return app.return_code or 0
