"""`auditop exporter`: Prometheus metrics over HTTP (/metrics) or into a
textfile for node_exporter (export/exporter.py), until SIGINT or SIGTERM
(exit 0). Only reads."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from auditop.commands import sampling
from auditop.commands.common import USAGE_ERROR, address
from auditop.core.errors import AuditError

TEXTFILE_EVERY_S = 15.0  # Prometheus' default scrape interval


def run(args: argparse.Namespace) -> int:
    from auditop.core.feed import Failure
    from auditop.export import exporter
    from auditop.probes.boot import kernel_hz

    settings = args.settings
    if args.textfile is not None and (problem := exporter.check_textfile(args.textfile)):
        print(f"auditop: {problem}", file=sys.stderr)
        return USAGE_ERROR
    stop = threading.Event()
    source = sampling.live_source(ticker=True)
    if args.producers:
        sampling.count_producers(source)
    try:
        source.poll()  # refuse here, before listening, if the kernel refuses
        running = sampling.monitor(settings, source, interval=settings.interval)
        running.connect(lambda event: stop.set() if isinstance(event, Failure) else None)
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        running.start()
        try:
            announce = lambda line: print(line, flush=True)  # noqa: E731
            if args.textfile is not None:
                exporter.run_textfile(running, args.textfile, args.every or TEXTFILE_EVERY_S,
                                      hz=kernel_hz(), stop=stop, announce=announce)
            else:
                host, port = settings.listen
                exporter.run_http(running, host, port, hz=kernel_hz(), stop=stop,
                                  announce=announce)
        finally:
            running.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    except OSError as exc:
        what = (f"write {args.textfile}" if args.textfile is not None
                else f"listen on {address(*settings.listen)}")
        print(f"auditop: cannot {what}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        source.close()
    if running.failure is not None:
        raise running.failure if isinstance(running.failure, AuditError) else AuditError(
            f"sampling stopped: {running.failure!r}")
    return 0
