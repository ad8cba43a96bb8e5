"""What the commands share: the exit codes, how a host is written in an
address, the refusal to start a TUI without a terminal, and how a
recording's damaged lines are told."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from auditop.core.text import url_host

USAGE_ERROR = 2  # bad input: the command line, a broken config file, no recording, no terminal
CHECK_UNKNOWN = 3  # `check`'s every error, as monitoring plugins expect
INTERRUPTED = 130  # Ctrl-C, as a shell says it

PROBLEMS_SHOWN = 10  # a recording's damaged lines printed to stderr, the rest counted
TUI_NEEDS_TERMINAL = ("the TUI needs a terminal; for a one-shot reading use `auditop status`, "
                      "for a log use `auditop record`")
REPLAY_NEEDS_TERMINAL = ("replay needs a terminal; `auditop plot FILE` draws a recording "
                         "as text")


def address(host: str, port: int) -> str:
    """"127.0.0.1:8000", "[::1]:8000"."""
    return f"{url_host(host)}:{port}"


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
    """The exit code, with `message` said, when there is no terminal; else None."""
    if without_terminal():
        print(f"auditop: {message}", file=sys.stderr)
        return USAGE_ERROR
    return None


def print_problems(path: Path, count: int, first: list[str], skipped: int) -> None:
    """A recording's first problems (`count` in all: lines and findings
    skipped), then how many more, and how many lines were skipped in all."""
    for problem in first[:PROBLEMS_SHOWN]:
        print(f"auditop: {path}: {problem} (skipped)", file=sys.stderr)
    if count > PROBLEMS_SHOWN:
        from auditop.sources.recording import problems_text
        print(f"auditop: {path}: {count - PROBLEMS_SHOWN} more problems; in all "
              f"{problems_text(count, skipped)}", file=sys.stderr)
