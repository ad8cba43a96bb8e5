"""`auditop set FIELD VALUE`: change backlog_limit, rate_limit or
backlog_wait_time in the running kernel through the Monitor, read it back,
and append the change to the change log. Asks first on a terminal."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from auditop.commands import sampling
from auditop.commands.common import USAGE_ERROR
from auditop.core.errors import AuditError


def run(args: argparse.Namespace) -> int:
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

    source = sampling.live_source()
    running = sampling.monitor(args.settings, source)
    running.start()
    try:
        status = sampling.first_answer(running)
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
        if not args.yes and sys.stdin.isatty() and not confirm(sys.stdin, sys.stdout):
            print("unchanged")
            return 1
        outcome = running.change(proposal, panic_confirmed=args.panic_confirmed, log=log)
    except AuditError:
        for line in unlogged:
            print(line, file=sys.stderr)
        raise
    finally:
        running.stop()
        source.close()
    print(outcome.text())
    for line in unlogged:
        print(line, file=sys.stderr)
    if outcome.new is not None and not outcome.as_asked:
        return 1
    print("It lasts until reboot or until the rules are reloaded; see docs/persisting.md")
    return 0


def confirm(stdin: TextIO, stdout: TextIO) -> bool:
    stdout.write("apply? [y/N] ")
    stdout.flush()
    return stdin.readline().strip().lower() in ("y", "yes")
