"""Section 5: cost against work. `auditop record` at 1, 10, 50 and 100 Hz
as a process (CPU with its sender children); `auditop replay` of 1 h and
24 h of windows (time to the first frame, peak RSS); the exporter's scrape
latency. A command this auditop does not have yet (`python -m auditop
COMMAND --help` fails) is a row saying so, never a figure."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks import recordings
from tests.benchmarks.procs import (children_of, cpu_between, reap_orphans, tree_cpu,
                                    write_calls)
from tests.benchmarks.table import Budget, Figure, Section, unavailable
from tests.benchmarks.terminal import run_in_pty
from tests.benchmarks.tui import AUDITOP, AUDITOP_MARKER

RATES = (1, 10, 50, 100)
BUDGET_50HZ = Budget(1.5)  # issue 15
C_PACED = "C AUDIT_GET loop at 10 Hz"  # section 1's anchor for the cost of a poll
REPLAYS = {"replay 1 h": 3600, "replay 24 h": 86400}
EXPORTER = "exporter GET /metrics"


def available(command: str) -> str | None:
    """None if `auditop COMMAND` exists here, else why not."""
    result = subprocess.run([sys.executable, "-m", "auditop", command, "--help"],
                            capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    if result.returncode == 0:
        return None
    return f"this auditop has no `{command}` command yet"


def measure(workdir: Path, seconds: float = 20.0, warmup: float = 3.0, scrapes: int = 50,
            parts: tuple[str, ...] = ("record", "replay", "exporter")) -> Section:
    figures: list[Figure] = []
    notes: list[str] = []
    if "record" in parts:
        figures += _record_rates(workdir, seconds, warmup)
        notes.append(f"record: {seconds:g} s after {warmup:g} s of warm-up at each rate, "
                     "in 5 s pieces; polls: the ticker's and senders' writes; CPU per poll is "
                     "all of it (windows, findings, JSON lines) over the polls")
        notes.append("below 50 Hz the sampler polls at 50 Hz while the backlog is busy (a "
                     "quarter full, or losing records): the polls row says how fast it went")
    if "replay" in parts:
        figures += _replays(workdir)
        notes.append("replay: synthetic 1 s windows written by export/json.py "
                     "window_object (tests/benchmarks/recordings.py); first frame = the "
                     "recording's values on the screen; RSS over opening and 2 s after")
    if "exporter" in parts:
        figures += _exporter(scrapes)
        notes.append(f"exporter: {scrapes} GET /metrics on 127.0.0.1, one at a time, "
                     "after its first answer; first answer = from start")
    return Section("Cost against work", tuple(figures), tuple(notes))


def _record_rates(workdir: Path, seconds: float, warmup: float) -> list[Figure]:
    figures = []
    pieces = max(1, round(seconds / 5))
    for rate in RATES:
        name = f"record --sample-rate {rate}"
        path = workdir / f"record-{rate}.jsonl"
        known = set(children_of(os.getpid()))
        process = subprocess.Popen(
            [sys.executable, "-m", "auditop", "record", "--output", str(path),
             "--sample-rate", str(rate), "--duration", str(warmup + seconds + 2)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cpu, polls = [], []
        try:
            time.sleep(warmup)
            at, used, sent = time.monotonic(), *_cost(process.pid)
            for _ in range(pieces):
                time.sleep(seconds / pieces)
                if process.poll() is not None:
                    break
                now, used_now, sent_now = time.monotonic(), *_cost(process.pid)
                cpu.append(100 * cpu_between(used, used_now) / (now - at))
                polls.append((sent_now - sent) / (now - at))
                at, used, sent = now, used_now, sent_now
        finally:
            err = _stop(process, known)
        if len(cpu) < pieces:
            why = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            figures += [unavailable(name, m, u, f"record ended early: {why[0][:120]}")
                        for m, u in (("CPU", "% of a core"), ("polls", "/s"))]
            continue
        per_poll = [c / 100 / p * 1e6 for c, p in zip(cpu, polls) if p > 0]
        figures += [
            Figure(name, "CPU", "% of a core", tuple(cpu),
                   budget=BUDGET_50HZ if rate == 50 else None),
            Figure(name, "polls", "/s", tuple(polls)),
        ]
        figures.append(Figure(name, "CPU per poll", "us", tuple(per_poll), anchors=(C_PACED,))
                       if per_poll else unavailable(name, "CPU per poll", "us", "no polls"))
    return figures


def _cost(pid: int):
    """(CPU seconds of pid and its children, requests its senders sent)."""
    used, pids = tree_cpu(pid)
    return used, sum(write_calls(p) for p in pids if p != pid)


def _replays(workdir: Path, starts: int = 3) -> list[Figure]:
    why = available("replay")
    if why is not None:
        return [unavailable(name, metric, unit, why, anchors=(AUDITOP,))
                for name in REPLAYS for metric, unit in (("first frame", "s"),
                                                         ("peak RSS", "MiB"))]
    figures = []
    for name, count in REPLAYS.items():
        path = recordings.write(workdir / f"{count}.jsonl", count)
        size = path.stat().st_size / 2**20
        runs = [run_in_pty([sys.executable, "-m", "auditop", "replay", str(path)],
                           marker=AUDITOP_MARKER, warmup=60.0, seconds=0, settle=2.0)
                for _ in range(starts)]
        firsts = tuple(r.first_frame for r in runs if r.first_frame is not None)
        label = f"{name} ({size:.0f} MiB)"
        if not firsts:
            tail = runs[-1].tail.decode(errors="replace").strip()[-120:]
            figures += [unavailable(label, m, u, f"no frame with the recording's values "
                                    f"within 60 s: {tail!r}", anchors=(AUDITOP,))
                        for m, u in (("first frame", "s"), ("peak RSS", "MiB"))]
            continue
        figures += [Figure(label, "first frame", "s", firsts, anchors=(AUDITOP,)),
                    Figure(label, "peak RSS", "MiB", tuple(r.peak_rss_mib for r in runs),
                           anchors=(AUDITOP,))]
        path.unlink()
    return figures


def _exporter(scrapes: int) -> list[Figure]:
    why = available("exporter")
    if why is not None:
        return [unavailable(EXPORTER, m, u, why) for m, u in (("first answer", "s"),
                                                              ("scrape latency", "ms"))]
    port = _free_port()
    known = set(children_of(os.getpid()))
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "auditop", "exporter", "--listen", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    latencies: list[float] = []
    first: float | None = None
    problem = None
    try:
        deadline = time.monotonic() + 15
        while first is None and time.monotonic() < deadline and process.poll() is None:
            try:
                _get(port)
                first = time.perf_counter() - start
            except (OSError, http.client.HTTPException):
                time.sleep(0.02)
        if first is None:
            problem = "no answer on /metrics within 15 s"
        else:
            for _ in range(scrapes):
                began = time.perf_counter()
                _get(port)
                latencies.append((time.perf_counter() - began) * 1e3)
                time.sleep(0.05)
    except (OSError, http.client.HTTPException) as exc:
        problem = f"a scrape failed: {exc}"
    finally:
        err = _stop(process, known)
    if problem:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return [unavailable(EXPORTER, m, u, f"{problem} {tail[0][:100]}".strip())
                for m, u in (("first answer", "s"), ("scrape latency", "ms"))]
    return [Figure(EXPORTER, "first answer", "s", (first,)),
            Figure(EXPORTER, "scrape latency", "ms", tuple(latencies))]


def _get(port: int) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise http.client.HTTPException(f"HTTP {response.status}")
        return body
    finally:
        connection.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen, known) -> str:
    """Ctrl-C the way a person stops it (kill after 10 s), reap the senders
    it left behind; its stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    reap_orphans(known)
    return err
