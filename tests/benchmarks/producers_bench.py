"""What the multicast listener costs (issue 16, docs/producers.md): the same
flood with and without it, in the lab, under the kernel lock.

    python -m tests.benchmarks.producers_bench                 # 3 rounds, limits 8192 and 64
    python -m tests.benchmarks.producers_bench --rounds 5 --seconds 5 --limits 64 \
        --processes 1 --modes without,paced,duty
    python -m tests.benchmarks.producers_bench --capture tests/unit/fixtures/producers-two-keys.txt.gz

Each round floods the lab's scratch rule (tests/scenarios/producer.py,
`--processes` processes, bounded) once per mode, in rotating order:
`without` the listener (the anchor), `eager` (woken per batch), `paced` (a
batch every 50 ms, the default) and, when asked, `duty` (as ListenerDuty
runs it while records are lost: 1 s open in 5). For each run it reads:

* records lost (the kernel's `lost`, delta);
* auditd's drain rate: lines auditd wrote to the lab's log during the run,
  per second of flood (its log is one line per record), and over the
  anchor's in the same round (paired: the machine drifts between rounds);
* the opens the producers made (the load the kernel let through);
* kauditd's and auditd's CPU (/proc/<pid>/stat), the kernel-side cost;
* the listener's own CPU per 100 000 records and the records it missed
  (its socket's drops), from the listener run as a child process.

Root, auditd and auditctl needed; the lab refuses an unsafe machine and
restores everything (tests/scenarios/lab.py). Not part of the test suite.
`python -m tests.benchmarks.bench --producers` runs the same rounds (`rounds`,
`one_run`), shorter, as a section of the benchmark's table
(tests/benchmarks/producers_part.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks.lock import KernelLock
from tests.scenarios.lab import Lab, auditctl, missing_capability

HERE = Path(__file__).resolve().parents[2]
NAMED = HERE / "tests" / "scenarios" / "named_producer.py"
TICK = os.sysconf("SC_CLK_TCK")


class BenchLab(Lab):
    """The lab with a log large enough to count every line of the runs."""

    def _write_auditd_conf(self) -> None:
        super()._write_auditd_conf()
        conf = self.conf_dir / "auditd.conf"
        text = conf.read_text().replace("max_log_file = 8\n", "max_log_file = 2000\n")
        conf.write_text(text)

    @property
    def log_path(self) -> Path:
        return self._tmp / "log" / "audit.log"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def kauditd_pid() -> int:
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if Path(f"/proc/{name}/comm").read_text().strip() == "kauditd":
                    return int(name)
            except OSError:
                continue
    raise RuntimeError("no kauditd thread")


class LogLines:
    """Lines appended to auditd's log since the last call. `start` is the
    offset it began at; `rotated` says the log rotated meanwhile (then
    `start` and `offset` are offsets in different files)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, path.stat().st_size if path.exists() else 0
        self.start, self.rotated = self.offset, False

    @staticmethod
    def between(path: Path, start: int, end: int) -> bytes:
        """The bytes auditd wrote to `path` from offset `start` to `end`."""
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(max(end - start, 0))

    def new(self) -> int:
        lines = 0
        if self.path.stat().st_size < self.offset:  # rotated: the rest of the old one first
            with open(self.path.with_name(self.path.name + ".1"), "rb") as f:
                f.seek(self.offset)
                while chunk := f.read(1 << 20):
                    lines += chunk.count(b"\n")
            self.offset, self.rotated = 0, True
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while chunk := f.read(1 << 20):
                lines += chunk.count(b"\n")
                self.offset += len(chunk)
        return lines


def child(seconds: float, pace: float, duty: bool) -> int:
    """The listener as it would run in auditop: ProducerCounter, drained once a
    second; with `duty`, as ListenerDuty runs it while records are lost (1 s
    in 5, the spell beginning at once). Prints `ready`, then one JSON line."""
    from auditop.core.producers import ListenerDuty
    from auditop.probes.multicast import ProducerCounter

    counter = ProducerCounter.start(on_unavailable=lambda why: print(why, file=sys.stderr),
                                    pace=pace)
    if counter.unavailable:
        return 1
    print("ready", flush=True)
    t0, cpu0 = time.monotonic(), os.times()
    windows = []
    schedule = ListenerDuty()
    with counter:
        deadline = t0 + seconds
        next_drain = t0 + 1.0
        while (now := time.monotonic()) < deadline:
            if duty:
                counter.run(schedule.wanted(now, losing=True))
            time.sleep(0.05)
            if time.monotonic() >= next_drain:
                windows.append(counter.drain())
                next_drain += 1.0
        windows.append(counter.drain())
        cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    records = sum(w.records for w in windows)
    print(json.dumps({"records": records, "cpu_s": cpu,
                      "thread_cpu_s": counter.cpu_seconds,
                      "missed": sum(w.missed for w in windows),
                      "sampled_min": min((w.sampled for w in windows), default=1.0),
                      "top_key": max(windows, key=lambda w: w.records).top("by_key").name
                      if records else None}), flush=True)
    return 0


# The runs of a round: no listener (the anchor); the listener reading as soon
# as records arrive; the listener paced (a batch every 50 ms at most).
MODES = {"without": None, "eager": 0.0, "paced": 0.05, "duty": 0.05}
LABELS = {"without": "without listener (anchor)", "eager": "listener, woken per batch",
          "paced": "listener, a batch every 50 ms",
          "duty": "listener paced, 1 s in 5 (ListenerDuty while losing)"}


def one_run(lab: BenchLab, seconds: float, mode: str, processes: int = 2) -> dict:
    pace = MODES[mode]
    listener = pace is not None
    kthread = kauditd_pid()
    lab.wait_for(lambda s: s.get("backlog", 1) == 0, timeout=5)
    log = LogLines(lab.log_path)
    lost0 = lab.status()["lost"]
    k0, a0 = cpu_seconds(kthread), cpu_seconds(lab.auditd_pid)
    listen = None
    try:
        if listener:
            listen = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.producers_bench",
                                       "--child", str(seconds + 2.0), "--pace", str(pace)]
                                      + (["--duty"] if mode == "duty" else []),
                                      cwd=HERE, stdout=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, text=True)
            if listen.stdout.readline().strip() != "ready":
                raise RuntimeError("the listener did not start")
        t0 = time.monotonic()
        ops = sum(r.get("ops", 0) for r in lab.results(lab.flood(seconds, processes=processes),
                                                         timeout=seconds + 15))
        flood_s = time.monotonic() - t0
        lab.wait_for(lambda s: s.get("backlog", 1) == 0, timeout=5)
        time.sleep(0.5)  # auditd writes what it has read
        out = {"mode": mode, "ops": ops, "flood_s": flood_s,
               "lost": lab.status()["lost"] - lost0,
               "auditd_lines": log.new(),
               "kauditd_cpu_s": cpu_seconds(kthread) - k0,
               "auditd_cpu_s": cpu_seconds(lab.auditd_pid) - a0}
        out["drain_per_s"] = out["auditd_lines"] / flood_s
        # Where the run's lines are in the log (LogLines.between), unless it rotated.
        out["log_span"] = None if log.rotated else [log.start, log.offset]
        if listen is not None:
            stdout, _ = listen.communicate(timeout=seconds + 15)
            out["listener_run"] = json.loads(stdout.strip().splitlines()[-1])
        return out
    finally:
        if listen is not None and listen.poll() is None:  # a run that failed half-way
            listen.kill()
            listen.wait(timeout=5)


def rounds(lab: BenchLab, limit: int, count: int, seconds: float, modes: list[str],
           processes: int = 2):
    """The runs at one backlog_limit: `count` rounds, each running every
    mode once in rotating order (so no mode always runs first); yields each
    run with its `backlog_limit` and `round`. The caller may stop between
    runs."""
    auditctl("-b", str(limit))
    for k in range(count):
        order = modes[k % len(modes):] + modes[:k % len(modes)]
        for mode in order:
            run = one_run(lab, seconds, mode, processes)
            run["backlog_limit"] = limit
            run["round"] = k
            yield run


def capture(lab: BenchLab, path: Path) -> None:
    """A small real stream for the unit tests: two producers on their own
    keys and names, 60 and 20 opens, every record the listener got."""
    from auditop.probes.multicast import MulticastListener

    dirs, rules = [], []
    records: list[tuple[int, bytes]] = []
    listener = None
    try:
        for name in ("alpha", "beta"):
            d = lab._tmp / f"capture-{name}"
            d.mkdir()
            (d / "load").write_text("audited\n")
            rule = ["always,exit", "-F", "arch=b64", "-S", "openat", "-F", f"dir={d}",
                    "-k", f"auditop-capture-{name}"]
            auditctl("-a", *rule)
            rules.append(rule)
            dirs.append(d)
        listener = MulticastListener()
        for (name, count), d in zip((("alpha-writer", 60), ("beta-reader", 20)), dirs):
            subprocess.run([sys.executable, str(NAMED), name, str(d), str(count), "5"],
                           check=True, capture_output=True, timeout=15)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(records) < 2000:
            batch = listener.read_batch()
            records += batch
            if not batch:
                time.sleep(0.05)
    finally:
        if listener is not None:
            listener.close()
        for rule in rules:
            auditctl("-d", *rule)
    with gzip.open(path, "wt") as f:
        f.write("# captured by tests/benchmarks/producers_bench.py --capture: "
                "type<TAB>record text, one record a line\n")
        for mtype, payload in records:
            f.write(f"{mtype}\t{payload.decode('utf-8', 'replace').rstrip(chr(0))}\n")
    print(f"captured {len(records)} records into {path}")


def median_text(values: list[float], fmt: str = "{:.0f}") -> str:
    if not values:
        return "-"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def paired(runs: list[dict], mode: str) -> list[float]:
    """auditd's drain in each round over the anchor's in the same round (a
    run whose log could not be read, 0 lines, is left out)."""
    anchors = {r["round"]: r["drain_per_s"] for r in runs
               if r["mode"] == "without" and r["auditd_lines"]}
    return [r["drain_per_s"] / anchors[r["round"]] for r in runs
            if r["mode"] == mode and r["round"] in anchors and r["auditd_lines"]]


def report(limit: int, runs: list[dict]) -> str:
    rows = []
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        if not mine:
            continue
        per_100k = [r["listener_run"]["cpu_s"] / r["listener_run"]["records"] * 1e5
                    for r in mine if r.get("listener_run", {}).get("records")]
        lst = [r["listener_run"] for r in mine if "listener_run" in r]
        rows.append(
            f"| {limit} | {LABELS[mode]} | {len(mine)} | "
            f"{median_text([r['ops'] / r['flood_s'] for r in mine])} | "
            f"{median_text([r['drain_per_s'] for r in mine])} | "
            f"{median_text(paired(runs, mode), '{:.2f}') if mode != 'without' else '(a) 1'} | "
            f"{median_text([r['lost'] for r in mine])} | "
            f"{median_text([r['lost'] / r['ops'] * 100 for r in mine if r['ops']], '{:.0f}%')} | "
            f"{median_text([r['kauditd_cpu_s'] / r['flood_s'] * 100 for r in mine], '{:.0f}%')} | "
            f"{median_text([r['auditd_cpu_s'] / r['flood_s'] * 100 for r in mine], '{:.0f}%')} | "
            f"{median_text(per_100k, '{:.2f} s') if per_100k else '-'} | "
            f"{median_text([x['missed'] for x in lst]) if lst else '-'} |")
    return "\n".join(rows)


HEADER = ("| backlog_limit | run | n | opens/s | auditd drain, records/s | "
          "drain / same round's anchor | lost (kernel count) | "
          "lost per open | kauditd CPU | auditd CPU | listener CPU per 100 000 records | "
          "listener missed |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--limits", default="8192,64")
    parser.add_argument("--capture", type=Path)
    parser.add_argument("--modes", default="without,eager,paced")
    parser.add_argument("--processes", type=int, default=2, choices=(1, 2, 3, 4))
    parser.add_argument("--duty", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--pace", type=float, default=0.05, help=argparse.SUPPRESS)
    parser.add_argument("--lock-wait", type=float, default=900)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(min(args.child, 30.0), args.pace, args.duty)
    if reason := missing_capability():
        print(f"producers_bench: {reason}", file=sys.stderr)
        return 2
    if not 0 < args.seconds <= 5 or not 0 < args.rounds <= 10:
        print("producers_bench: floods of at most 5 s, at most 10 rounds", file=sys.stderr)
        return 2
    lock = KernelLock()
    if not lock.acquire(args.lock_wait):
        print("producers_bench: the kernel lock stayed busy", file=sys.stderr)
        return 1
    tables, raw = [], []
    try:
        with BenchLab() as lab:
            if args.capture:
                auditctl("-b", "8192")
                capture(lab, args.capture)
            for limit in [int(x) for x in args.limits.split(",") if x]:
                runs = []
                for run in rounds(lab, limit, args.rounds, args.seconds,
                                  args.modes.split(","), args.processes):
                    print("RUN", json.dumps(run), flush=True)
                    runs.append(run)
                raw += runs
                tables.append(report(limit, runs))
    finally:
        lock.release()
    print()
    print(f"{os.cpu_count()} CPUs, kernel {os.uname().release}, flood {args.seconds} s x "
          f"{args.processes} processes, {args.rounds} rounds (median, min-max)")
    print(HEADER)
    print("\n".join(tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
