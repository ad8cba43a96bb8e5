"""What each `auditop` command does, with the settings auditop/cli.py resolved
(`args.settings`: command line over config file over defaults). Heavy imports
(pyroute2, prometheus_client, Textual) happen inside the command that needs
them."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from typing import TextIO

from auditop.core.errors import AuditError

USAGE_ERROR = 2
FIRST_ANSWER_TIMEOUT = 3.0
TEXTFILE_EVERY_S = 15.0  # Prometheus' default scrape interval


# -- the TUI ------------------------------------------------------------------

def run_tui(args: argparse.Namespace) -> int:
    from auditop.offline import TUI_NEEDS_TERMINAL, refuse_without_terminal
    if (refused := refuse_without_terminal(TUI_NEEDS_TERMINAL)) is not None:
        return refused
    if args.demo:
        from auditop.offline import demo_tui
        return demo_tui(args.settings)
    from auditop.tui.app import run  # Textual only when the TUI is wanted
    return run(args.settings)


# -- no kernel: replay, plot, web (auditop/offline.py) ---------------------------

def run_replay(args: argparse.Namespace) -> int:
    from auditop.offline import replay
    return replay(args.file, speed=args.speed, settings=args.settings)


def run_plot(args: argparse.Namespace) -> int:
    from auditop.offline import plot
    return plot(args.file, output=args.output, width=args.width, height=args.height)


def run_web(args: argparse.Namespace) -> int:
    from auditop.offline import web
    try:
        return web(demo=args.demo, replay_file=args.replay, host=args.host, port=args.port,
                   public_url=args.public_url)
    except OSError as exc:  # the address is in use, or not this machine's
        raise AuditError(f"web: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}") from None


# -- sampling ---------------------------------------------------------------

def _monitor(settings, source, **kwargs):
    from auditop.core.monitor import Monitor
    return Monitor(source, rate_hz=settings.sample_rate, thresholds=settings.thresholds,
                   **kwargs)


def _live_source():
    from auditop.sources.live import LiveSource  # pyroute2 only when the kernel is asked
    return LiveSource()


def _sample_once(settings, window: float, source=None):
    """Sample for `window` seconds: one window over the whole span, and the
    final snapshot. Finishes when the window does, whatever the kernel holds."""
    source = source or _live_source()
    try:
        snapshot = _monitor(settings, source, interval=math.inf).run(window)
    finally:
        source.close()
    last = snapshot.windows[-1] if snapshot.windows else None
    if last is None or last.status is None:
        error = last.error if last is not None else None
        raise AuditError(error or f"no answer from the kernel within {window:g} s")
    return last, snapshot


def run_status(args: argparse.Namespace) -> int:
    request, source = None, None
    if args.auditd_state:
        if args.settings.read_only:
            origin = args.resolved["read_only"][1]
            print(f"auditop: --auditd-state signals auditd to ask for its report; "
                  f"read-only mode ({origin}) forbids that", file=sys.stderr)
            return USAGE_ERROR
        source = _live_source()
        try:
            request = _ask_auditd_state(source)
        except BaseException:
            source.close()
            raise
    window, snapshot = _sample_once(args.settings, args.window, source)
    if args.format == "prometheus":
        from auditop.export.prometheus import exposition, reading
        from auditop.probes.boot import kernel_hz

        sys.stdout.write(exposition(reading(snapshot, peak=window.backlog_peak,
                                            hz=kernel_hz())).decode())
    elif args.format == "json":
        from auditop.export.json import status_object
        line = status_object(window, snapshot.findings, snapshot.setting_changes)
        line["auditd_state_request"] = request
        print(json.dumps(line))
    else:
        from auditop.export.text import status_text
        print(status_text(window, list(snapshot.findings), changes=snapshot.setting_changes,
                          state_request=request))
    return 0


REPORT_WAIT = 2.0  # seconds for auditd to write the report it was asked for


def _ask_auditd_state(source) -> str:
    """Ask the running auditd for a state report (probes/auditd_state.py
    refuses for a stopped one) and wait for it; what was done, in one line."""
    from auditop.probes.auditd_state import auditd_version, report_written_since, request_state

    sample = source.poll()
    if sample.status is None:
        return f"not asked: {sample.error or 'no answer from the kernel'}"
    process = sample.system.auditd if sample.system is not None else None
    asked_at = time.time()
    said = request_state(sample.status.pid, process.state if process else None,
                         auditd_version())
    if not said.startswith("asked"):
        return said
    deadline = time.monotonic() + REPORT_WAIT
    while not report_written_since(asked_at):
        if time.monotonic() > deadline:
            return f"{said}, but no report appeared within {REPORT_WAIT:g} s"
        time.sleep(0.02)
    source.reread_system()
    return said


def run_check(args: argparse.Namespace) -> int:
    from auditop.export.check import check_line

    settings = args.settings
    # The config file's [check] lists, then the flags (the command line wins).
    overrides = {**settings.check_weights, **getattr(args, "overrides", {})}
    window, snapshot = _sample_once(settings, args.window)
    between = None
    if not args.no_state:  # what happened since the previous run (docs/check.md)
        from auditop.export.checkstate import between_runs
        between = between_runs(window, args.state_file)
    code, line = check_line(window, snapshot.findings, settings.thresholds, overrides,
                            between)
    print(line)
    return code


# -- changing ---------------------------------------------------------------

def run_set(args: argparse.Namespace) -> int:
    from auditop.core.changes import PanicRisk, Proposal, guard, risks
    from auditop.core.memory import describe_backlog_memory
    from auditop.core.settings import DESCRIPTIONS, InvalidSetting, parse_setting
    from auditop.probes.boot import kernel_hz

    if args.settings.read_only:
        origin = args.resolved["read_only"][1]
        print(f"auditop: read-only (read_only = true, {origin}): nothing is changed; "
              "--no-read-only allows it this once", file=sys.stderr)
        return USAGE_ERROR
    try:
        value = parse_setting(args.field, args.value, allow_unlimited=args.unlimited,
                              hz=kernel_hz())
    except InvalidSetting as exc:
        print(f"auditop: {exc}", file=sys.stderr)
        return USAGE_ERROR

    from auditop.changelog import append_change

    unlogged: list[str] = []

    def log(field: str, old: int | None, new: int | None, result: str) -> None:
        try:
            append_change(field, old, new, result)
        except OSError as error:  # the kernel may have changed all the same: said below
            unlogged.append(f"auditop: warning: the change log could not be written: {error}")

    source = _live_source()
    monitor = _monitor(args.settings, source)
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
        outcome = monitor.change(proposal, panic_confirmed=args.panic_confirmed, log=log)
    except AuditError:
        for line in unlogged:
            print(line, file=sys.stderr)
        raise
    finally:
        monitor.stop()
        source.close()
    print(outcome.text())
    for line in unlogged:
        print(line, file=sys.stderr)
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


# -- recording and exporting ---------------------------------------------------

def run_record(args: argparse.Namespace) -> int:
    from auditop.export.json import window_object

    settings = args.settings
    path = args.output
    if path is None:
        from auditop.paths import state_dir
        path = state_dir() / time.strftime("record-%Y%m%d-%H%M%S.jsonl")
    if args.demo:
        return _record_demo(settings, path, args.duration)
    source = _live_source()
    try:
        source.poll()  # fail here, before any file exists, if the kernel refuses
        with open(path, "a", encoding="utf-8") as out:
            print(f"recording to {path}", file=sys.stderr)

            def write(window, snapshot) -> None:
                out.write(json.dumps(window_object(window, snapshot.findings,
                                                   snapshot.setting_changes)) + "\n")
                out.flush()  # a killed recorder loses at most this window

            _monitor(settings, source, interval=settings.interval,
                     on_window=write).run(args.duration)
    except OSError as exc:
        print(f"auditop: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        source.close()
    print(path)
    return 0


def _record_demo(settings, path, duration: float | None) -> int:
    from auditop.offline import record_demo
    try:
        with open(path, "a", encoding="utf-8") as out:
            print(f"recording the demo to {path}", file=sys.stderr)
            record_demo(out, settings=settings, duration=duration)
    except OSError as exc:
        print(f"auditop: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    print(path)
    return 0


def run_exporter(args: argparse.Namespace) -> int:
    """Serve or write metrics until SIGINT or SIGTERM (exit 0). Only reads."""
    from auditop.export import exporter
    from auditop.probes.boot import kernel_hz

    settings = args.settings
    if args.textfile is not None and (problem := exporter.check_textfile(args.textfile)):
        print(f"auditop: {problem}", file=sys.stderr)
        return USAGE_ERROR
    stop = threading.Event()
    source = _live_source()
    try:
        source.poll()  # refuse here, before listening, if the kernel refuses
        monitor = _monitor(settings, source, interval=settings.interval,
                           on_failure=lambda error: stop.set())
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        monitor.start()
        try:
            announce = lambda line: print(line, flush=True)  # noqa: E731
            if args.textfile is not None:
                exporter.run_textfile(monitor, args.textfile, args.every or TEXTFILE_EVERY_S,
                                      hz=kernel_hz(), stop=stop, announce=announce)
            else:
                host, port = settings.listen
                exporter.run_http(monitor, host, port, hz=kernel_hz(), stop=stop,
                                  announce=announce)
        finally:
            monitor.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    except OSError as exc:
        if args.textfile is not None:
            what = f"write {args.textfile}"
        else:
            host, port = settings.listen
            what = f"listen on {f'[{host}]' if ':' in host else host}:{port}"
        print(f"auditop: cannot {what}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        source.close()
    if monitor.failure is not None:
        raise monitor.failure if isinstance(monitor.failure, AuditError) else AuditError(
            f"sampling stopped: {monitor.failure!r}")
    return 0


# -- the config file ------------------------------------------------------------

def run_config_path(args: argparse.Namespace) -> int:
    from auditop.config import config_path
    print(config_path())
    return 0


def run_config_show(args: argparse.Namespace) -> int:
    from auditop.config import show_text
    print(show_text(args.resolved))
    return 0
