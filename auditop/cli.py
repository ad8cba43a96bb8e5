"""The `auditop` command. Without a subcommand it opens the live TUI; the
headless commands never import Textual. Every command consumes the one
Monitor (core/monitor.py); every error a person can cause is one line and a
non-zero exit (2 for bad input and a broken config file, 3 for `check`, as
monitoring plugins expect), never a traceback.

Settings: a flag given on the command line wins over the config file
(auditop/config), the file over the defaults. So every flag that is also a
setting defaults to None ("not given"), and each command reads the resolved
`args.settings`.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
from importlib.metadata import version
from pathlib import Path

from auditop.commands.common import CHECK_UNKNOWN, INTERRUPTED, USAGE_ERROR
from auditop.core.errors import AuditError
from auditop.core.sampler import MAX_RATE_HZ, MIN_RATE_HZ
from auditop.core.settings import SETTABLE_FIELDS

MIN_SECONDS, MAX_SECONDS = 0.1, 3600.0  # display windows and sampling spans
MAX_DURATION = 366 * 24 * 3600.0  # a recording of a year is the longest we take
FORMATS = ("text", "json", "prometheus")
MIN_SPEED, MAX_SPEED = 0.01, 10_000.0  # replay --speed
MIN_PLOT_WIDTH, MIN_PLOT_HEIGHT = 40, 12  # export/plot.py's MIN_WIDTH, MIN_HEIGHT
# command-line dest -> setting name (auditop/config)
SETTING_FLAGS = {"interval": "interval", "sample_rate": "sample_rate",
                 "read_only": "read_only", "listen": "exporter.listen"}


class UsageError(Exception):
    """Bad command-line input: one line, exit 2 (3 for `check`)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit 2
        raise UsageError(f"{self.prog}: {message}")


# Off by default (producers then come from auditd's log): binding the
# multicast group logs a record and each copy costs kauditd time, both inside
# the incident being measured (the lab's stall and throttle scenarios read
# other numbers with it on).
PRODUCERS_HELP = ("count who produces the records live from the audit multicast group "
                  "instead of auditd's log (needs CAP_AUDIT_READ; each copy costs kauditd "
                  "time, and joining or leaving the group logs a record the kernel "
                  "throttles like any other)")

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    is_check = "check" in argv[:argv.index("--")] if "--" in argv else "check" in argv
    try:
        args = _parser().parse_args(argv)
        _check_usage(args)
    except UsageError as exc:
        # The user's own text may hold line breaks; the message stays one line.
        message = str(exc).replace("\r", "\\r").replace("\n", "\\n")
        if is_check:
            print(f"AUDIT UNKNOWN - usage: {message}")
            return CHECK_UNKNOWN
        print(f"{message} (see auditop --help)", file=sys.stderr)
        return USAGE_ERROR
    run = command(args.command)
    is_check = args.command == "check"
    if args.reads_config:
        from auditop.config import ConfigError
        try:
            _resolve_settings(args)
        except ConfigError as exc:
            if is_check:
                print(f"AUDIT UNKNOWN - config: {exc}")
                return CHECK_UNKNOWN
            print(f"auditop: {exc}", file=sys.stderr)
            return USAGE_ERROR
    try:
        return run(args)
    except AuditError as exc:
        if is_check:
            print(f"AUDIT UNKNOWN - {exc}")
            return CHECK_UNKNOWN
        print(f"auditop: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # `auditop status --json | head -c 100`: the reader had enough. Nothing
        # more to say, and nothing at exit either (Python's own advice).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug: said as one, with where it is
        from auditop.core.errors import InternalError
        if os.environ.get("AUDITOP_DEBUG"):
            raise
        error = InternalError(exc)
        print(f"AUDIT UNKNOWN - {error}" if is_check else f"auditop: {error} "
              "(AUDITOP_DEBUG=1 shows the traceback)", file=sys.stdout if is_check
              else sys.stderr)
        return CHECK_UNKNOWN if is_check else error.exit_code


def command(name: str):
    """The function that runs a command: "status" is auditop/commands/status.py's
    `run`, "config:show" its `show`. Imported only when the command runs."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(f"auditop.commands.{module}"), function or "run")


def _resolve_settings(args: argparse.Namespace) -> None:
    """args.settings (typed) and args.resolved (value and origin of each setting)."""
    from auditop.config import Settings, effective, load

    overrides = {name: getattr(args, dest, None) for dest, name in SETTING_FLAGS.items()}
    args.resolved = effective(load(), overrides)
    args.settings = Settings.from_effective(args.resolved)


def _check_usage(args: argparse.Namespace) -> None:
    """What argparse cannot say by itself."""
    if getattr(args, "json", False):
        if args.format not in (None, "json"):
            raise UsageError(f"auditop status: --json and --format {args.format} "
                             "contradict each other")
        args.format = "json"
    if getattr(args, "textfile", None) is not None and args.listen is not None:
        raise UsageError("auditop exporter: --listen and --textfile are two ways out; "
                         "give one")
    if getattr(args, "every", None) is not None and args.textfile is None:
        raise UsageError("auditop exporter: --every is for --textfile")
    if args.command == "web" and str(getattr(args, "replay", None)) == "-":
        raise UsageError("auditop web: --replay - cannot be: each browser tab's replay "
                         "reads the file anew; give its path")
    if hasattr(args, "weight_warning"):
        args.overrides = _check_overrides(args)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="auditop",
                     description="Watch and steer the Linux kernel audit backlog.")
    parser.add_argument("--version", action="version",
                        version=f"auditop {version('auditop')}")
    _sampling_options(parser, default=None)
    _read_only_option(parser, default=None)
    parser.add_argument("--demo", action="store_true",
                        help="a simulated machine: no root, no kernel touched (try it)")
    parser.add_argument("--producers", action="store_true", help=PRODUCERS_HELP)
    parser.set_defaults(command="tui", reads_config=True)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    status = sub.add_parser("status", help="print the audit status, system probes and "
                            "findings")
    status.add_argument("--producers", action="store_true",
                        help=PRODUCERS_HELP)
    status.add_argument("--format", choices=FORMATS, default=None,
                        help="text (default), json (one object, docs/json.md) or "
                             "prometheus (the exposition format, docs/fleet.md)")
    status.add_argument("--json", action="store_true", help="the same as --format json")
    status.add_argument("--auditd-state", action="store_true",
                        help="ask auditd for a fresh state report first (its plugin queue, "
                             "logging, disk): SIGCONT to auditd 3.0.x, `auditctl --signal "
                             "state` from 3.1.1; never to a stopped auditd (SIGCONT would "
                             "resume it), never with --read-only")
    _read_only_option(status, default=argparse.SUPPRESS,
                      what="never signal auditd: --auditd-state is refused")
    _window_option(status)
    status.set_defaults(command="status")

    check = sub.add_parser("check", help="monitoring-plugin check: one line, "
                           "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    _window_option(check)
    for flag, weight in (("--warn", "warning"), ("--crit", "critical"), ("--ok", "ok")):
        check.add_argument(flag, metavar="ID[,ID]", action="append", default=[],
                           type=_finding_ids, dest=f"weight_{weight}",
                           help=(f"findings that make the state {weight.upper()} when "
                                 "present" if weight != "ok" else
                                 "findings that are only named, never raising the state")
                           + " (ids in docs/check.md; repeatable; over the config "
                             "file's [check] lists)")
    remember = check.add_mutually_exclusive_group()
    remember.add_argument("--state-file", metavar="PATH", type=_state_path, default=None,
                          help="where the previous run's counters are kept (default: "
                               "check.json in the per-user state directory, beside the "
                               "change log)")
    remember.add_argument("--no-state", action="store_true",
                          help="neither read nor write the state: say nothing about "
                               "what happened between runs")
    check.set_defaults(command="check")

    setter = sub.add_parser("set", help="change backlog_limit, rate_limit or "
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
    _read_only_option(setter, default=argparse.SUPPRESS,
                      what="change nothing: refuse, exit 2")
    setter.set_defaults(command="set")

    record = sub.add_parser("record", help="write one JSON line per display window "
                            "(schema in docs/json.md)")
    record.add_argument("--producers", action="store_true",
                        help=PRODUCERS_HELP)
    record.add_argument("--output", "-o", type=Path,
                        help="file to write, - for stdout (default: a new file in the state "
                             "directory, its path printed at the end)")
    record.add_argument("--duration", type=_seconds(MIN_SECONDS, MAX_DURATION), default=None,
                        help="seconds to record (default: until interrupted)")
    record.add_argument("--demo", action="store_true",
                        help="record the demo's tour of every incident, no root needed "
                             "(ends after its panic)")
    _sampling_options(record, default=argparse.SUPPRESS)
    record.set_defaults(command="record")

    replay = sub.add_parser("replay", help="the TUI over a recording, at its own pace")
    replay.add_argument("file", type=Path, help="a file written by `auditop record` (- for "
                        "stdin, read whole before the replay starts)")
    replay.add_argument("--speed", type=_seconds(MIN_SPEED, MAX_SPEED), default=1.0,
                        help=f"times the recording's pace ({MIN_SPEED:g} to {MAX_SPEED:g}, "
                             "default 1)")
    _range_options(replay, "start the replay there", "end it there")
    replay.set_defaults(command="replay")

    plot = sub.add_parser("plot", help="a recording's backlog peak against the limit and "
                          "lost records per second, as text")
    plot.add_argument("file", type=Path, help="a file written by `auditop record` (- for "
                      "stdin)")
    plot.add_argument("--output", "-o", type=Path,
                      help="write plain text to this file (an incident report; - for stdout)")
    _range_options(plot, "draw from there", "draw up to there")
    plot.add_argument("--width", type=_count(MIN_PLOT_WIDTH, 1000),
                      help="columns (default: the terminal's)")
    plot.add_argument("--height", type=_count(MIN_PLOT_HEIGHT, 1000),
                      help="lines (default: the terminal's)")
    plot.set_defaults(command="plot")

    summary = sub.add_parser("summary", help="the incidents in a recording: when, how "
                             "bad, what was lost, why, who produced and who changed what")
    summary.add_argument("file", type=Path,
                         help="a file written by `auditop record` (- for stdin)")
    summary.add_argument("--json", action="store_true",
                         help="one JSON document (docs/json.md) instead of text")
    summary.set_defaults(command="summary", format=None)  # --json: format "json"

    web = sub.add_parser("web", help="serve the TUI to a browser (a classroom view); never "
                         "offers kernel changes")
    shown = web.add_mutually_exclusive_group()
    shown.add_argument("--demo", action="store_true", help="serve the demo")
    shown.add_argument("--replay", type=Path, metavar="FILE", help="serve a replay of FILE")
    web.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only)")
    web.add_argument("--port", type=_count(1, 65535), default=8000,
                     help="port (default 8000)")
    web.add_argument("--public-url", metavar="URL", type=_public_url,
                     help="the URL browsers use, when it is not http://HOST:PORT "
                          "(a name for this machine, a proxy)")
    web.add_argument("--max-sessions", type=_count(1, 1000), default=30, metavar="N",
                     help="browser tabs served at once, each its own auditop "
                          "(default 30: a class)")
    web.add_argument("--no-token", dest="token", action="store_false", default=None,
                     help="off loopback, serve without the access token in the URL "
                          "(anyone who can reach the port can watch)")
    web.set_defaults(command="web")

    exporter = sub.add_parser("exporter", help="Prometheus metrics: an HTTP /metrics "
                              "endpoint, or a textfile for node_exporter (docs/fleet.md)")
    exporter.add_argument("--producers", action="store_true",
                        help=PRODUCERS_HELP)
    exporter.add_argument("--listen", type=_listen, default=None, metavar="HOST:PORT",
                          help="serve /metrics there (default from the config file, "
                               "else 127.0.0.1:10090)")
    exporter.add_argument("--textfile", type=Path, default=None, metavar="PATH",
                          help="instead, replace PATH (*.prom) every --every seconds")
    exporter.add_argument("--every", type=_seconds(1.0, MAX_SECONDS), default=None,
                          metavar="S", help="seconds between textfile writes (default 15)")
    _sampling_options(exporter, default=argparse.SUPPRESS)
    exporter.set_defaults(command="exporter")

    config = sub.add_parser("config", help="the config file: where it is, what is in "
                            "effect")
    config_sub = config.add_subparsers(title="config commands", metavar="WHAT",
                                       parser_class=_Parser, required=True)
    config_sub.add_parser("path", help="print where the config file is (or would be)"
                          ).set_defaults(command="config:path", reads_config=False)
    config_sub.add_parser("show", help="print every setting in effect and where it "
                          "came from").set_defaults(command="config:show")
    _describe(sub)
    _describe(config_sub, "config ")
    return parser


# Each subcommand's --help: (description, example command lines).
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "status": ("""\
Sample the kernel's audit status for --window seconds, read the system
probes (auditd and its socket buffer, auditd.conf, the kernel log) and print
the status with every finding: as text, as one JSON object (docs/json.md) or
in the Prometheus exposition format (docs/fleet.md). Changes nothing in the
kernel; asking it needs CAP_AUDIT_CONTROL (root).""", (
        "auditop status",
        "auditop status --json --window 2",
        "auditop status --format prometheus",
        "auditop status --auditd-state")),
    "check": ("""\
A monitoring-plugin check (Nagios, Icinga, Sensu): sample for --window
seconds and print one line with perfdata; exit 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN. Live trouble sets the state; configuration risks are only named.
--warn, --crit and --ok reweigh findings by id (docs/check.md). It keeps the
counters of its previous run (--state-file) to say what happened in between.""", (
        "auditop check",
        "auditop check --window 5 --warn q-depth-small",
        "auditop check --ok netlink-drops --no-state")),
    "set": ("""\
Change backlog_limit, rate_limit or backlog_wait_time in the running kernel,
read the value back from the kernel's next answer and append the change to
the change log. Asks first on a terminal. With failure = 2 a change that can
lose records is refused without --i-understand-failure-2. The change lasts
until reboot or until the rules are reloaded (docs/persisting.md).""", (
        "auditop set backlog_limit 8192",
        "auditop set backlog_wait_time 0 --yes",
        "auditop set backlog_limit 0 --unlimited")),
    "record": ("""\
Sample the kernel and write one JSON line per display window (schema in
docs/json.md) until interrupted or for --duration seconds; `auditop replay`
and `auditop plot` read the file. -o - writes the lines to stdout; without
-o they go to a new file in the state directory, whose path is printed at
the end (`auditop record -o - | auditop replay -` replays as it ends).
--demo records the demo's tour, no root (it says how long first).""", (
        "auditop record -o stall.jsonl",
        "auditop record --duration 600 --interval 2 -o ten-minutes.jsonl",
        "auditop record --demo -o tour.jsonl",
        "auditop record --demo -o -")),
    "replay": ("""\
The TUI over a recording, at its own pace times --speed: p pauses, left and
right step a window, n and N jump to the next and previous warning, < and >
change the speed, j jumps to a time, / finds a finding by id or word (; again).
--from and --to replay a stretch: a clock time (the first such time in the
recording), a date and time, or an offset from its start. FILE - reads stdin
whole first, then the keys come from the terminal. No root needed; no kernel
changes.""", (
        "auditop replay stall.jsonl",
        "auditop replay stall.jsonl --speed 10",
        "auditop replay stall.jsonl --from 14:03 --to 14:10",
        "auditop replay -")),
    "plot": ("""\
A recording's backlog peak against backlog_limit and its lost records per
second, drawn as text sized to the terminal; -o writes plain text to a file
(an incident report; - for stdout). --from and --to draw a stretch (times as
for replay). FILE - reads stdin. NO_COLOR is respected.""", (
        "auditop plot stall.jsonl",
        "auditop plot stall.jsonl -o report.txt --width 100 --height 30",
        "auditop plot stall.jsonl --from 14:03:20 --to 14:05",
        "auditop plot stall.jsonl --from +90 --to +5m -o -")),
    "summary": ("""\
The incidents in a recording: each stretch of windows with live trouble
(records lost, the backlog filling, auditd stopped, the kernel holding
senders; one quiet window inside does not split it), with its clock times,
backlog peak against the limit in force, records lost, the causes the
kernel's log named, the findings, the producers and the setting changes
made during it and by whom. FILE - reads stdin.""", (
        "auditop summary stall.jsonl",
        "auditop summary day.jsonl --json",
        "auditop summary - --json")),
    "web": ("""\
Serve the TUI to browsers with textual-serve (pip install '.[web]'), for a
classroom: one auditop per browser tab, ended when its tab closes. Listens
on 127.0.0.1 unless --host says otherwise; off loopback it prints each
address's URL with an access token in it (--no-token: none). Only the
server's own pages may open sessions, at most --max-sessions. Never offers
kernel changes (the live screen is served read-only). Ctrl-C stops it and
every auditop it started.""", (
        "auditop web --demo",
        "auditop web --replay stall.jsonl --port 8080",
        "auditop web --host 0.0.0.0 --public-url http://teacher-laptop:8000 --demo")),
    "exporter": ("""\
Prometheus metrics of the audit backlog, served on /metrics (--listen,
default 127.0.0.1:10090) or written to a *.prom file for node_exporter's
textfile collector (--textfile). Sampled at 10 Hz underneath, so
auditop_backlog_peak is the highest backlog between two scrapes. Metrics and
alert rules: docs/fleet.md.""", (
        "auditop exporter",
        "auditop exporter --listen 0.0.0.0:10090",
        "auditop exporter --textfile /var/lib/node_exporter/textfile/auditop.prom "
        "--every 15")),
    "config": ("""\
The config file (TOML): where it is and what is in effect. A flag on the
command line wins over the file, the file over the defaults.""", (
        "auditop config path",
        "auditop config show")),
    "config path": ("""\
Print where the config file is, or would be. Creates nothing, and answers
even when the file is broken.""", (
        "auditop config path",)),
    "config show": ("""\
Print every setting in effect and where it came from: the default, the
config file or the command line.""", (
        "auditop config show",
        "auditop --interval 2 config show")),
}


def _describe(sub, prefix: str = "") -> None:
    """Each subcommand's --help page: what it does, and examples (PAGES)."""
    for name, page in sub.choices.items():
        if prefix + name in PAGES:
            page.description, examples = PAGES[prefix + name]
            page.epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
            page.formatter_class = argparse.RawDescriptionHelpFormatter


def _sampling_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--interval", type=_seconds(MIN_SECONDS, MAX_SECONDS),
                        default=default,
                        help="display window in seconds (default 1, or the config file's)")
    parser.add_argument("--sample-rate", type=_seconds(MIN_RATE_HZ, MAX_RATE_HZ),
                        default=default,
                        help=f"polls per second underneath ({MIN_RATE_HZ:g} to "
                             f"{MAX_RATE_HZ:g}, default 10, or the config file's)")


def _read_only_option(parser: argparse.ArgumentParser, default,
                      what: str = "never change the kernel (the change keys are disabled)"
                      ) -> None:
    parser.add_argument("--read-only", action=argparse.BooleanOptionalAction,
                        default=default,
                        help=f"{what}; --no-read-only overrides read_only = true in the "
                             "config file")


def _range_options(parser: argparse.ArgumentParser, start: str, end: str) -> None:
    """--from / --to: a stretch of a recording (core/timespec.py)."""
    when = ("a clock time (14:03, 14:03:20: the first such time in the recording), a date "
            "and time (2026-12-07T14:03:20) or an offset from the recording's start (+90, "
            "+5m, +1h30m, 90s)")
    parser.add_argument("--from", dest="time_from", metavar="TIME", type=_time, default=None,
                        help=f"{start}: {when}")
    parser.add_argument("--to", dest="time_to", metavar="TIME", type=_time, default=None,
                        help=f"{end} (a clock time: the first such time after --from)")


def _window_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=_seconds(MIN_SECONDS, MAX_SECONDS), default=1.0,
                        help="seconds to sample before answering, so rates and "
                             "peaks mean something (default 1)")


def _finding_ids(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated finding ids, each one known."""
    from auditop.export.check import BadIds, parse_ids
    try:
        return parse_ids(text)
    except BadIds as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _state_path(text: str) -> Path:
    """An argparse type: check's --state-file, a file path (not empty, not a directory)."""
    if not text or text.endswith("/"):
        raise argparse.ArgumentTypeError(f"not a file path: {text[:60]!r}")
    return Path(text)


def _check_overrides(args: argparse.Namespace) -> dict[str, str]:
    from auditop.export.check import BadIds, overrides_from
    try:
        return overrides_from({weight: [i for ids in getattr(args, f"weight_{weight}")
                                        for i in ids]
                               for weight in ("warning", "critical", "ok")})
    except BadIds as exc:
        raise UsageError(f"auditop check: {exc}") from None


def _count(low: int, high: int):
    """An argparse type: a whole number in [low, high]."""
    def parse(text: str) -> int:
        if not (text.isdigit() and len(text) <= 9):
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:32]!r}")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, not {text[:32]!r}")
        return value
    return parse


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


def _time(text: str):
    """An argparse type: a time in a recording (core/timespec.py), as typed."""
    from auditop.core.timespec import BadTime, parse
    try:
        return parse(text)
    except BadTime as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _listen(text: str) -> str:
    """An argparse type: HOST:PORT, checked the way the config file's is."""
    from auditop.config import parse_listen
    try:
        parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not {exc}: {text[:64]!r}") from None
    return text


def _public_url(text: str) -> str:
    """An argparse type: --public-url, an http(s) URL with a host a browser
    can open (not 0.0.0.0) and a valid port, no query."""
    from ipaddress import ip_address
    from urllib.parse import urlsplit
    parts = urlsplit(text)
    try:
        parts.port  # ValueError when it is not a port
        is_url = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        is_url = False
    if not is_url:
        raise argparse.ArgumentTypeError(f"not a URL: {text[:64]!r} (want http://HOST[:PORT] "
                                         "or https://HOST[:PORT])")
    try:
        unspecified = ip_address(parts.hostname).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"not a URL a browser can open: {text[:64]!r}")
    return text.rstrip("/")


if __name__ == "__main__":
    sys.exit(main())
