"""A day of recording, replayed: time to the first frame and memory.

    python -m tests.benchmarks.replay_bench [--hours 24] [--keep FILE]

Writes a recording of `--hours` at 1 s windows (blocks of `auditop record`
lines of the scripted healthy, overflow, stopped-auditd and throttled
machines, re-timed one a second), then runs `auditop replay` on it in an
80x24 pseudo-terminal: the time to the first frame (the title with the
recording's date), to the whole file read (the title's count loses its
"+"), and peak RSS then and after jumping to the end and through findings.
The same for a 1 h file shows whether memory grows with the recording.
Not part of the test suite: figures to read, not to assert.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from tests.terminal import Terminal

BLOCK_SECONDS = 600


def make_recording(path: Path, hours: float) -> int:
    from auditop.core.monitor import Monitor
    from auditop.export.json import window_object
    from auditop.sources.scripted import EPOCH, SCENARIOS, ScriptedSource, samples

    blocks = []
    for name in ("healthy", "overflow", "healthy", "auditd-stopped", "healthy", "throttled"):
        lines: list[dict] = []
        monitor = Monitor(ScriptedSource(SCENARIOS[name]()), on_window=lambda w, s:
                          lines.append(window_object(w, s.findings)))
        monitor.add(samples(name, BLOCK_SECONDS))
        blocks.append(lines)
    total = round(hours * 3600)
    written = 0
    with path.open("w") as out:
        while written < total:
            for block in blocks:
                for line in block:
                    if written >= total:
                        break
                    out.write(json.dumps(dict(line, time=EPOCH + written + 1)) + "\n")
                    written += 1
    return written


def hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(path: Path) -> dict[str, float]:
    with Terminal([sys.executable, "-m", "auditop", "replay", str(path)], size=(80, 24),
                  cwd=str(Path(__file__).resolve().parents[2])) as term:
        started = time.monotonic()
        assert term.wait_for("2023-11-14", "replay: no kernel changes", timeout=60)
        first = time.monotonic() - started
        first_rss = hwm_mib(term.process.pid)
        count = re.compile(r"\d+/\d+\+? at ")
        while time.monotonic() - started < 120:  # read to the end: the count has no "+"
            term.read(0.5)
            seen = count.findall(term.text[-20000:])
            if seen and "+" not in seen[-1]:
                break
        indexed = time.monotonic() - started
        indexed_rss = hwm_mib(term.process.pid)
        term.type("\x1b[1;2C")  # shift+right: the last window (600 windows reread)
        term.read(1.0)
        term.type("n" * 20 + "N" * 5)
        term.read(3.0)
        end_rss = hwm_mib(term.process.pid)
        term.type("q")
        term.finish()
    return {"first_frame_s": first, "read_all_s": indexed, "rss_first_mib": first_rss,
            "rss_read_mib": indexed_rss, "rss_after_jumps_mib": end_rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--keep", type=Path, help="write the long recording here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="auditop-replay-bench-") as folder:
        rows = []
        for hours, path in ((1.0, Path(folder) / "hour.jsonl"),
                            (args.hours, args.keep or Path(folder) / "day.jsonl")):
            windows = make_recording(path, hours)
            size = os.path.getsize(path) / 1024**2
            rows.append((f"{hours:g} h, {windows} windows, {size:.0f} MiB", measure(path)))
    print(f"{'auditop replay, 80x24 pty':<36}{'1st frame s':>12}{'read all s':>11}"
          f"{'RSS MiB: 1st':>13}{'read':>7}{'jumps':>7}")
    for label, r in rows:
        print(f"{label:<36}{r['first_frame_s']:>12.2f}{r['read_all_s']:>11.1f}"
              f"{r['rss_first_mib']:>13.1f}{r['rss_read_mib']:>7.1f}"
              f"{r['rss_after_jumps_mib']:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
