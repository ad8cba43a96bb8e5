"""auditop's cost, measured in one run beside anchors measured in the same
run, printed as one table of medians with min and max (docs/performance.md).

    python -m tests.benchmarks.bench              # everything, about 5 minutes
    python -m tests.benchmarks.bench --query      # one part (any of --query --tui
                                                  #   --headless --bursts --work --producers)
    python -m tests.benchmarks.bench --markdown   # the table as Markdown

Needs root on a kernel with audit (the real AUDIT_GET path), and for the
anchors and the lab: gcc (the C AUDIT_GET loop; apt-get install -y gcc),
auditctl and auditd (apt-get install -y auditd), top (procps). What is
missing becomes a "not available: why" row, never a figure.

Not part of the test suite (machines are noisy: these are figures to read,
not to assert); the budget of issue 9 is printed beside them as pass/miss.
The burst and producer parts load the kernel in the lab
(tests/scenarios/lab.py), under the kernel lock, and restore everything; the
other parts only read it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tests.benchmarks import bursts, headless, producers_part, query, tui, work
from tests.benchmarks.labrun import LabFailed
from tests.benchmarks.lock import KernelLock, Watch
from tests.benchmarks.procs import become_subreaper
from tests.benchmarks.table import Section, render

PARTS = ("query", "tui", "headless", "bursts", "work", "producers")
LABS = ("bursts", "producers")  # the parts that run the lab (and take the kernel lock)
TOOLS = {"gcc": "the C AUDIT_GET loop (apt-get install -y gcc)",
         "auditctl": "the auditctl anchors and the lab (apt-get install -y auditd)",
         "auditd": "the burst lab (apt-get install -y auditd)",
         "top": "the TUI's anchor (apt-get install -y procps)"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = [part for part in PARTS if getattr(args, part)] or list(PARTS)
    problem = _kernel_problem()
    if problem:
        print(f"bench: the real kernel is out of reach: {problem} (run as root on a "
              "kernel with audit)", file=sys.stderr)
        return 2
    lock = KernelLock()
    if args.hold_lock and not lock.acquire(args.lock_wait):
        print(f"bench: another run held the kernel lock for {args.lock_wait:g} s",
              file=sys.stderr)
        return 1
    subreaper = become_subreaper()
    print(_machine(), end="\n\n")
    for tool, why in TOOLS.items():
        if shutil.which(tool) is None:
            print(f"missing {tool}: no {why}")
    if not subreaper:
        print("not a child subreaper: the CPU of senders left behind at exit is not counted")
    sections: list[Section] = []
    failed = None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="auditop-bench-") as tmp:
        workdir = Path(tmp)
        for part in chosen:
            _progress(f"{part} ...")
            with Watch(lock) as watch:
                try:
                    section = _run(part, args, workdir, lock)
                except LabFailed as exc:
                    failed = exc
                    continue
            # The lab holds the lock itself: waiting for it is no load on the figures.
            note = watch.note() if part not in LABS else None
            sections.append(replace(section, notes=section.notes + ((note,) if note else ())))
    took = time.monotonic() - started
    print(render(sections, markdown=args.markdown), end="")
    print(f"\n{', '.join(chosen)} in {took:.0f} s; load average at the end "
          f"{_loadavg()}{'; the kernel lock held for the whole run' if args.hold_lock else ''}")
    lock.release()
    if failed is not None:
        print(f"bench: THE LAB COULD NOT RESTORE THE MACHINE: {failed}", file=sys.stderr)
        return 1
    return 0


def _run(part: str, args: argparse.Namespace, workdir: Path, lock: KernelLock) -> Section:
    if part == "query":
        return query.measure(workdir)
    if part == "tui":
        return tui.measure(seconds=args.seconds)
    if part == "headless":
        return headless.measure()
    if part == "bursts":
        return bursts.measure(lock, bursts=args.floods, lock_wait=args.lock_wait)
    if part == "producers":
        return producers_part.measure(lock, rounds=args.producer_rounds,
                                      lock_wait=args.lock_wait)
    return work.measure(workdir, seconds=args.seconds)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench",
                                     description=__doc__.splitlines()[0])
    parts = parser.add_argument_group("parts (default: all)")
    parts.add_argument("--query", action="store_true",
                       help="one status query: auditop's poll path, a C loop, auditctl -s "
                            "(about 30 s)")
    parts.add_argument("--tui", action="store_true",
                       help="the TUI at 80x24 beside top -d 1 (about 60 s)")
    parts.add_argument("--headless", action="store_true",
                       help="status --json, check, auditctl -s as processes (about 20 s)")
    parts.add_argument("--bursts", action="store_true",
                       help="burst capture in the lab, on the real kernel (about 20 s)")
    parts.add_argument("--work", action="store_true",
                       help="record at 1-100 Hz, replay, exporter (about 2 minutes)")
    parts.add_argument("--producers", action="store_true",
                       help="the multicast listener's cost to the kernel and auditd's "
                            "log's in auditop, in the lab (about 60 s)")
    parser.add_argument("--seconds", type=_positive, default=20.0,
                        help="steady state per TUI program and per sampling rate "
                             "(default 20)")
    parser.add_argument("--floods", type=int, choices=range(2, 21), default=8,
                        metavar="N", help="150 ms floods in the burst lab (2-20, default 8)")
    parser.add_argument("--producer-rounds", type=int, choices=range(1, 11), default=3,
                        metavar="N", help="rounds per backlog_limit in the producer part "
                                          "(1-10, default 3; limit 64 runs only if both "
                                          "limits fit in about 90 s)")
    parser.add_argument("--hold-lock", action="store_true",
                        help="hold the kernel lock for the whole run, so no lab or kernel "
                             "test loads the kernel meanwhile (they wait)")
    parser.add_argument("--lock-wait", type=_positive, default=120.0,
                        help="seconds to wait for the kernel lock (default 120)")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 3600: {text!r}")
    return value


def _kernel_problem() -> str | None:
    from auditop.core.errors import AuditError
    from auditop.kernel.client import AuditClient

    try:
        with AuditClient() as client:
            client.get_status()
    except AuditError as exc:
        return str(exc)
    return None


def _machine() -> str:
    """Where it ran: the lines docs/performance.md records."""
    from auditop.probes.boot import kernel_hz

    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (f"machine: {os.cpu_count()} CPUs ({model}), kernel {platform.release()}, "
            f"HZ {kernel_hz() or '?'}, Python {platform.python_version()}\n"
            f"load average at the start {_loadavg()}; {time.strftime('%Y-%m-%d %H:%M %Z')}")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
