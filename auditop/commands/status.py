"""`auditop status`: sample for --window seconds and print the status with
every finding, as text, one JSON object or the Prometheus exposition
format; --auditd-state asks auditd for a fresh state report first."""

from __future__ import annotations

import argparse
import json
import sys
import time

from auditop.commands import sampling
from auditop.commands.common import USAGE_ERROR

REPORT_WAIT = 2.0  # seconds for auditd to write the report it was asked for


def run(args: argparse.Namespace) -> int:
    request, source = None, None
    if args.auditd_state:
        if args.settings.read_only:
            origin = args.resolved["read_only"][1]
            print(f"auditop: --auditd-state signals auditd to ask for its report; "
                  f"read-only mode ({origin}) forbids that", file=sys.stderr)
            return USAGE_ERROR
        source = sampling.live_source()
        try:
            request = ask_auditd_state(source)
        except BaseException:
            source.close()
            raise
    window, snapshot = sampling.sample_once(args.settings, args.window, source,
                                            producers=args.producers)
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


def ask_auditd_state(source) -> str:
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
