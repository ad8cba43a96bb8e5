"""`auditop check`: a monitoring-plugin check, one line and exit 0-3
(docs/check.md). cli.py turns every error of this command into
`AUDIT UNKNOWN`, exit 3."""

from __future__ import annotations

import argparse

from auditop.commands import sampling


def run(args: argparse.Namespace) -> int:
    from auditop.export.check import check_line

    settings = args.settings
    # The config file's [check] lists, then the flags (the command line wins).
    overrides = {**settings.check_weights, **getattr(args, "overrides", {})}
    window, snapshot = sampling.sample_once(settings, args.window)
    between = None
    if not args.no_state:  # what happened since the previous run (docs/check.md)
        from auditop.export.checkstate import between_runs
        between = between_runs(window, args.state_file)
    code, line = check_line(window, snapshot.findings, settings.thresholds, overrides,
                            between)
    print(line)
    return code
