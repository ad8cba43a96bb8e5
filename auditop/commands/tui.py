"""`auditop` and `auditop --demo`: the TUI over the live kernel or over the
simulator, with the resolved settings. Textual is imported only here, and
only once a terminal is there to draw on."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from auditop.commands.common import TUI_NEEDS_TERMINAL, refuse_without_terminal


def run(args: argparse.Namespace) -> int:
    if (refused := refuse_without_terminal(TUI_NEEDS_TERMINAL)) is not None:
        return refused
    if args.demo:
        return demo(args.settings)
    from auditop.tui.app import run as live  # Textual only when the TUI is wanted
    return live(args.settings, producers=args.producers)


def demo(settings) -> int:
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
