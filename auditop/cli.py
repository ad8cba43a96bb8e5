"""The `auditop` command. Without a subcommand it opens the live TUI; the
headless commands never import Textual. Every command consumes the one
Monitor (core/monitor.py); every error a person can cause is one line and a
non-zero exit (2 for bad input, 3 for `check`, as monitoring plugins expect),
never a traceback."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import TextIO

from auditop.core.errors import AuditError
from auditop.core.sampler import DEFAULT_RATE_HZ, MAX_RATE_HZ, MIN_RATE_HZ
from auditop.core.settings import SETTABLE_FIELDS

USAGE_ERROR = 2
CHECK_UNKNOWN = 3
MIN_SECONDS, MAX_SECONDS = 0.1, 3600.0  # display windows and sampling spans
MAX_DURATION = 366 * 24 * 3600.0  # a recording of a year is the longest we take
FIRST_ANSWER_TIMEOUT = 3.0


class UsageError(Exception):
    """Bad command-line input: one line, exit 2 (3 for `check`)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit 2
        raise UsageError(f"{self.prog}: {message}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    is_check = "check" in argv[:argv.index("--")] if "--" in argv else "check" in argv
    try:
        args = _parser().parse_args(argv)
    except UsageError as exc:
        if is_check:
            print(f"AUDIT UNKNOWN - usage: {exc}")
            return CHECK_UNKNOWN
        print(f"{exc} (see auditop --help)", file=sys.stderr)
        return USAGE_ERROR
    try:
        return args.run(args)
    except AuditError as exc:
        if args.run is _check:
            print(f"AUDIT UNKNOWN - {exc}")
            return CHECK_UNKNOWN
        print(f"auditop: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: said as one, with where it is
        from auditop.core.errors import InternalError
        if os.environ.get("AUDITOP_DEBUG"):
            raise
        error = InternalError(exc)
        print(f"AUDIT UNKNOWN - {error}" if args.run is _check else f"auditop: {error} "
              "(AUDITOP_DEBUG=1 shows the traceback)", file=sys.stdout if args.run is _check
              else sys.stderr)
        return CHECK_UNKNOWN if args.run is _check else error.exit_code


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="auditop",
                     description="Watch and steer the Linux kernel audit backlog.")
    parser.add_argument("--version", action="version",
                        version=f"auditop {version('auditop')}")
    _sampling_options(parser)
    parser.add_argument("--read-only", action="store_true",
                        help="never change the kernel (the change keys are disabled)")
    parser.set_defaults(run=_tui)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND",
                                     parser_class=_Parser)

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
    setter.add_argument("--i-understand-failure-2", action="store_true",
                        dest="panic_confirmed",
                        help="with failure = 2 (panic), allow a change that can lose "
                             "records: the first lost record panics the machine")
    setter.set_defaults(run=_set)

    record = commands.add_parser("record", help="write one JSON line per display "
                                 "window (schema in docs/json.md)")
    record.add_argument("--output", "-o", type=Path,
                        help="file to write (default: a new file in the state directory)")
    record.add_argument("--duration", type=_seconds(MIN_SECONDS, MAX_DURATION), default=None,
                        help="seconds to record (default: until interrupted)")
    _sampling_options(record)
    record.set_defaults(run=_record)
    return parser


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=_seconds(MIN_SECONDS, MAX_SECONDS), default=1.0,
                        help="display window in seconds (default 1)")
    parser.add_argument("--sample-rate", type=_seconds(MIN_RATE_HZ, MAX_RATE_HZ),
                        default=DEFAULT_RATE_HZ,
                        help=f"polls per second underneath ({MIN_RATE_HZ:g} to "
                             f"{MAX_RATE_HZ:g}, default {DEFAULT_RATE_HZ:g})")


def _window_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=_seconds(MIN_SECONDS, MAX_SECONDS), default=1.0,
                        help="seconds to sample before answering, so rates and "
                             "peaks mean something (default 1)")


def _seconds(low: float, high: float):
    """An argparse type: a plain decimal number in [low, high]."""
    def parse(text: str) -> float:
        try:
            value = float(text) if len(text) <= 32 else math.nan
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text[:32]!r}") from None
        if not low <= value <= high:  # also refuses nan and inf
            raise argparse.ArgumentTypeError(
                f"must be a number from {low:g} to {high:g}, not {text[:32]!r}")
        return value
    return parse


# -- commands ---------------------------------------------------------------

def _tui(args: argparse.Namespace) -> int:
    from auditop.tui.app import run  # Textual only when the TUI is wanted
    return run(interval=args.interval, sample_rate=args.sample_rate,
               read_only=args.read_only)


def _live_monitor(**kwargs):
    from auditop.core.monitor import Monitor
    from auditop.sources.live import LiveSource  # pyroute2 only when the kernel is asked

    source = LiveSource()
    return source, Monitor(source, **kwargs)


def _sample_once(window: float):
    """Sample for `window` seconds: one window over the whole span, and the
    final snapshot. Finishes when the window does, whatever the kernel holds."""
    source, monitor = _live_monitor(interval=math.inf, rate_hz=DEFAULT_RATE_HZ)
    try:
        snapshot = monitor.run(window)
    finally:
        source.close()
    last = snapshot.windows[-1] if snapshot.windows else None
    if last is None or last.status is None:
        error = last.error if last is not None else None
        raise AuditError(error or f"no answer from the kernel within {window:g} s")
    return last, snapshot


def _status(args: argparse.Namespace) -> int:
    from auditop.export.json import status_object
    from auditop.export.text import status_text

    window, snapshot = _sample_once(args.window)
    if args.json:
        print(json.dumps(status_object(window, snapshot.findings)))
    else:
        print(status_text(window, list(snapshot.findings)))
    return 0


def _check(args: argparse.Namespace) -> int:
    from auditop.core.findings import DEFAULT as DEFAULT_THRESHOLDS
    from auditop.export.check import check_line

    window, snapshot = _sample_once(args.window)
    code, line = check_line(window, list(snapshot.findings), DEFAULT_THRESHOLDS)
    print(line)
    return code


def _set(args: argparse.Namespace) -> int:
    from auditop.core.changes import PanicRisk, Proposal, guard, risks
    from auditop.core.memory import describe_backlog_memory
    from auditop.core.settings import DESCRIPTIONS, InvalidSetting, parse_setting
    from auditop.probes.boot import kernel_hz

    try:
        value = parse_setting(args.field, args.value, allow_unlimited=args.unlimited,
                              hz=kernel_hz())
    except InvalidSetting as exc:
        print(f"auditop: {exc}", file=sys.stderr)
        return USAGE_ERROR

    from auditop.changelog import append_change

    source, monitor = _live_monitor(rate_hz=DEFAULT_RATE_HZ)
    monitor.start()
    try:
        status = _first_answer(monitor)
        proposal = Proposal(args.field, getattr(status, args.field), value, "set")
        print(f"{args.field}: {proposal.old} -> {value}  ({DESCRIPTIONS[args.field]})")
        if args.field == "backlog_limit":
            print(f"memory: {describe_backlog_memory(value)}")
        for risk in risks(proposal, status):
            print(f"warning: {risk}")
        try:
            guard(proposal, status, panic_confirmed=args.panic_confirmed)
        except PanicRisk as exc:
            print(f"auditop: {exc}; pass --i-understand-failure-2 to do it anyway",
                  file=sys.stderr)
            return USAGE_ERROR
        # A script's command line is its confirmation; a person is asked.
        if not args.yes and sys.stdin.isatty() and not _confirm(sys.stdin, sys.stdout):
            print("unchanged")
            return 1
        outcome = monitor.change(proposal, panic_confirmed=args.panic_confirmed,
                                 log=append_change)
    finally:
        monitor.stop()
        source.close()
    print(outcome.text())
    if outcome.new is not None and not outcome.as_asked:
        return 1
    print("It lasts until reboot or until the rules are reloaded; see docs/persisting.md")
    return 0


def _first_answer(monitor):
    deadline = time.monotonic() + FIRST_ANSWER_TIMEOUT
    while (status := monitor.snapshot().status) is None:
        if monitor.failure is not None:
            raise monitor.failure
        if time.monotonic() > deadline:
            latest = monitor.snapshot().latest
            raise AuditError(latest.error if latest and latest.error else
                             f"no answer from the kernel within {FIRST_ANSWER_TIMEOUT:g} s")
        time.sleep(0.02)
    return status


def _confirm(stdin: TextIO, stdout: TextIO) -> bool:
    stdout.write("apply? [y/N] ")
    stdout.flush()
    return stdin.readline().strip().lower() in ("y", "yes")


def _record(args: argparse.Namespace) -> int:
    from auditop.core.monitor import Monitor
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

            def write(window, snapshot) -> None:
                out.write(json.dumps(window_object(window, snapshot.findings)) + "\n")
                out.flush()  # a killed recorder loses at most this window

            Monitor(source, interval=args.interval, rate_hz=args.sample_rate,
                    on_window=write).run(args.duration)
    except OSError as exc:
        print(f"auditop: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        source.close()
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
