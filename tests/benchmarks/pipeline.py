"""What drift watch and auditd's state report cost, beside what they sit on:

    python -m tests.benchmarks.pipeline

Per sample (the monitor's thread, 10-50 Hz): History.add with the drift
watch, and the watch alone. Per system reading (2 Hz): following auditd's
log idle and after a flood's worth of lines, the state report check, beside
the whole read_system. No kernel needed: files in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

LINE = (b'type=SYSCALL msg=audit(1796155973.794:%d): arch=c000003e syscall=257 success=yes '
        b'exit=3 a0=ffffff9c a1=7f a2=0 a3=0 items=1 ppid=1 pid=2 auid=4294967295 uid=0 '
        b'gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 '
        b'comm="python3" exe="/usr/bin/python3.11" key="auditop-lab"\x1dARCH=x86_64\n')


def per_call(call, n: int) -> float:
    """Microseconds per call, the best of three rounds."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def sample_costs(n: int = 20000) -> list[tuple[str, float]]:
    from auditop.core.drift import DriftWatch
    from auditop.core.history import History
    from auditop.sources.scripted import samples

    feed = samples("healthy", 3 * n / 10)  # three rounds of n, the clock moving on
    changed = [replace(s, status=replace(s.status, backlog_limit=64 + i % 2))
               if i % 100 == 0 else s for i, s in enumerate(feed)]
    rows = []
    history, items = History(), iter(feed)
    rows.append(("History.add (drift watch inside)", per_call(
        lambda: history.add(next(items)), n)))
    history, items = History(), iter(feed)
    history.drift.observe = lambda sample: None  # the anchor: History without the watch
    rows.append(("History.add without the drift watch", per_call(
        lambda: history.add(next(items)), n)))
    watch, items = DriftWatch(), iter(feed)
    rows.append(("  DriftWatch.observe, nothing changes", per_call(
        lambda: watch.observe(next(items)), n)))
    watch, items = DriftWatch(), iter(changed)
    rows.append(("  DriftWatch.observe, a change every 100", per_call(
        lambda: watch.observe(next(items)), n)))
    return rows


def reading_costs(flood_mib: int = 4) -> list[tuple[str, float]]:
    from auditop.probes import read_system
    from auditop.probes.auditd_log import AuditdLog
    from auditop.probes.auditd_state import fresh_state
    from auditop.core.model import AuditdProcess

    tmp = Path(tempfile.mkdtemp(prefix="auditop-bench-"))
    log = tmp / "audit.log"
    log.write_bytes(LINE % 1 * 1000)
    follower = AuditdLog(str(log))
    rows = [("read_system (what it sits beside)", per_call(
        lambda: read_system(os.getpid()), 200))]
    rows.append(("AuditdLog.poll, nothing new", per_call(follower.poll, 2000)))
    chunk = b"".join(LINE % i for i in range(1024 * 1024 * flood_mib // len(LINE)))
    timings = []
    for _ in range(5):
        with open(log, "ab") as f:
            f.write(chunk)
        start = time.perf_counter()
        follower.poll()
        timings.append((time.perf_counter() - start) * 1e6)
    rows.append((f"AuditdLog.poll, {flood_mib} MiB appended (~{len(chunk) // len(LINE)} lines)",
                 min(timings)))
    state = tmp / "auditd.state"
    state.write_text("audit version = 3.0.9\ncurrent plugin queue depth = 0\n")
    auditd = AuditdProcess(pid=1, name="auditd", state="S", start_time=None)
    rows.append(("fresh_state, report unchanged (cached)", per_call(
        lambda: fresh_state(auditd, None, paths=(str(state),)), 2000)))
    rows.append(("fresh_state, no report file", per_call(
        lambda: fresh_state(auditd, None, paths=(str(tmp / "none"),)), 2000)))
    follower.close()
    for path in tmp.iterdir():
        path.unlink()
    tmp.rmdir()
    return rows


def main() -> int:
    print(f"{'per sample (10-50 Hz)':<52}{'us':>9}")
    for label, us in sample_costs():
        print(f"{label:<52}{us:>9.1f}")
    print(f"\n{'per system reading (2 Hz)':<52}{'us':>9}")
    for label, us in reading_costs():
        print(f"{label:<52}{us:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
