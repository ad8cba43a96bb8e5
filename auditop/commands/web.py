"""`auditop web`: serve the TUI to browsers with textual-serve (auditop/web.py),
one auditop process per browser tab, until Ctrl-C. Never a command that
changes the kernel: live mode is served --read-only."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auditop.commands.common import USAGE_ERROR, address
from auditop.core.errors import AuditError


def run(args: argparse.Namespace) -> int:
    try:
        return web(demo=args.demo, replay_file=args.replay, host=args.host, port=args.port,
                    public_url=args.public_url, max_sessions=args.max_sessions,
                    token=args.token)
    except OSError as exc:  # the address is in use, or not this machine's
        raise AuditError(f"web: cannot listen on {address(args.host, args.port)}: "
                         f"{exc.strerror or exc}") from None


def web_command(*, demo: bool, replay_file: Path | None) -> tuple[list[str], str]:
    """The auditop command each browser gets, and what it shows."""
    base = [sys.executable, "-m", "auditop"]
    if demo:
        return base + ["--demo"], "the demo"
    if replay_file is not None:
        return base + ["replay", str(replay_file.resolve())], f"a replay of {replay_file}"
    return base + ["--read-only"], "this machine's kernel, read-only"


def web(*, demo: bool, replay_file: Path | None, host: str, port: int,
        public_url: str | None, max_sessions: int, token: bool | None) -> int:
    if replay_file is not None:
        from auditop.sources.recording import NotARecording, iter_recording
        try:
            next(item for item in iter_recording(replay_file, seekable=True)
                 if not isinstance(item, str))
        except NotARecording as error:
            print(f"auditop: {error}", file=sys.stderr)
            return USAGE_ERROR
    try:
        from auditop.web import serve
    except ImportError as error:
        raise AuditError("auditop web needs textual-serve: pip install 'auditop[web]' "
                         f"({error})") from None
    command, what = web_command(demo=demo, replay_file=replay_file)
    # auditop/web.py makes the URLs (the token off loopback) and says them
    return serve(command, host=host, port=port, public_url=public_url, what=what,
                 max_sessions=max_sessions, token=token)
