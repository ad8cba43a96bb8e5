"""The `auditop` command. Without a subcommand it opens the live TUI; the
headless commands never import Textual."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import TextIO

from auditop.core.memory import describe_backlog_memory
from auditop.core.model import SETTABLE_FIELDS
from auditop.core.sampler import DEFAULT_RATE_HZ
from auditop.core.settings import DESCRIPTIONS, InvalidSetting, parse_setting
from auditop.kernel.errors import AuditError

USAGE_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except AuditError as exc:
        if args.run is _check:
            from auditop.export.check import unknown_line
            code, line = unknown_line(str(exc))
            print(line)
            return code
        print(f"auditop: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditop",
        description="Watch and steer the Linux kernel audit backlog.")
    parser.add_argument("--version", action="version",
                        version=f"auditop {version('auditop')}")
    _sampling_options(parser)
    parser.add_argument("--read-only", action="store_true",
                        help="never change the kernel (the change keys are disabled)")
    parser.set_defaults(run=_tui)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    status = commands.add_parser("status", help="print the audit status, system "
                                 "probes and findings")
    status.add_argument("--json", action="store_true",
                        help="one JSON object (schema in docs/json.md)")
    _window_option(status)
    status.set_defaults(run=_status)

    check = commands.add_parser("check", help="monitoring-plugin check: one line, "
                                "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    _window_option(check)
    check.set_defaults(run=_check)

    setter = commands.add_parser("set", help="change backlog_limit, rate_limit or "
                                 "backlog_wait_time, then read it back")
    setter.add_argument("field", help=", ".join(SETTABLE_FIELDS))
    setter.add_argument("value", help="a whole number")
    setter.add_argument("--unlimited", action="store_true",
                        help="allow backlog_limit 0, which means no limit at all")
    setter.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation on a terminal")
    setter.set_defaults(run=_set)

    record = commands.add_parser("record", help="write one JSON line per display "
                                 "window (schema in docs/json.md)")
    record.add_argument("--output", "-o", type=Path,
                        help="file to write (default: a new file in the state directory)")
    record.add_argument("--duration", type=_positive, default=None,
                        help="seconds to record (default: until interrupted)")
    _sampling_options(record)
    record.set_defaults(run=_record)
    return parser


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=_positive, default=1.0,
                        help="display window in seconds (default 1)")
    parser.add_argument("--sample-rate", type=_positive, default=DEFAULT_RATE_HZ,
                        help=f"polls per second underneath (default {DEFAULT_RATE_HZ:g})")


def _window_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=_positive, default=1.0,
                        help="seconds to sample before answering, so rates and "
                             "peaks mean something (default 1)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


# -- commands ---------------------------------------------------------------

def _tui(args: argparse.Namespace) -> int:
    from auditop.tui.app import run  # Textual only when the TUI is wanted
    return run(interval=args.interval, sample_rate=args.sample_rate,
               read_only=args.read_only)


def _sample_once(window: float):
    """Sample for `window` seconds; the last window and its findings."""
    from auditop.core.findings import evaluate
    from auditop.core.sampler import sample_windows
    from auditop.sources.live import LiveSource

    source = LiveSource()
    try:
        # One window over the whole span: it closes only when sampling ends.
        history = sample_windows(source, interval=math.inf, rate_hz=DEFAULT_RATE_HZ,
                                 duration=window, on_window=lambda w, h: None)
    finally:
        source.close()
    if not history.windows or history.windows[-1].status is None:
        error = history.windows[-1].error if history.windows else None
        raise AuditError(error or f"no answer from the kernel within {window:g} s")
    return history, evaluate(history)


def _status(args: argparse.Namespace) -> int:
    from auditop.export.json import status_object
    from auditop.export.text import status_text

    history, findings = _sample_once(args.window)
    if args.json:
        print(json.dumps(status_object(history.latest, findings)))
    else:
        print(status_text(history.windows[-1], findings))
    return 0


def _check(args: argparse.Namespace) -> int:
    from auditop.core.findings import DEFAULT as DEFAULT_THRESHOLDS
    from auditop.export.check import check_line

    history, findings = _sample_once(args.window)
    code, line = check_line(history.windows[-1], findings, DEFAULT_THRESHOLDS)
    print(line)
    return code


def _set(args: argparse.Namespace) -> int:
    from auditop.probes.boot import kernel_hz

    try:
        value = parse_setting(args.field, args.value, allow_unlimited=args.unlimited,
                              hz=kernel_hz())
    except InvalidSetting as exc:
        print(f"auditop: {exc}", file=sys.stderr)
        return USAGE_ERROR

    from auditop.changelog import append_change
    from auditop.kernel.client import AuditClient

    with AuditClient() as client:
        old = getattr(client.get_status(), args.field)
        print(f"{args.field}: {old} -> {value}  ({DESCRIPTIONS[args.field]})")
        if args.field == "backlog_limit":
            print(f"memory: {describe_backlog_memory(value)}")
        # A script's command line is its confirmation; a person is asked.
        if not args.yes and sys.stdin.isatty() and not _confirm(sys.stdin, sys.stdout):
            print("unchanged")
            return 1
        try:
            result = client.set(args.field, value)
        except AuditError as exc:
            append_change(args.field, old, value, str(exc))
            raise
    append_change(args.field, result.old, result.new, "ok")
    print(f"{args.field} is now {result.new} (read back from the kernel). It lasts "
          "until reboot or until the rules are reloaded; see docs/persisting.md")
    return 0


def _confirm(stdin: TextIO, stdout: TextIO) -> bool:
    stdout.write("apply? [y/N] ")
    stdout.flush()
    return stdin.readline().strip().lower() in ("y", "yes")


def _record(args: argparse.Namespace) -> int:
    from auditop.core.findings import evaluate
    from auditop.core.sampler import sample_windows
    from auditop.export.json import window_object
    from auditop.sources.live import LiveSource

    path = args.output
    if path is None:
        from auditop.paths import state_dir
        path = state_dir() / time.strftime("record-%Y%m%d-%H%M%S.jsonl")
    source = LiveSource()
    try:
        source.poll()  # fail here, before any file exists, if the kernel refuses
        with open(path, "a", encoding="utf-8") as out:
            print(f"recording to {path}", file=sys.stderr)

            def write(window, history):
                out.write(json.dumps(window_object(window, evaluate(history))) + "\n")
                out.flush()  # a killed recorder loses at most this window

            sample_windows(source, interval=args.interval, rate_hz=args.sample_rate,
                           duration=args.duration, on_window=write)
    except OSError as exc:
        print(f"auditop: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        source.close()
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
