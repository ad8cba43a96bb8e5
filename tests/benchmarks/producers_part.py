"""Section 6: counting producers (issue 16). In the lab, the same flood
without the multicast listener (the anchor) and with it (paced, as auditop
runs it), at backlog_limit 8192 (no losses: auditd's drain) and, when the
time allows, 64 (losses: records lost at the same load); the runs are those
of tests/benchmarks/producers_bench.py (`rounds`, `one_run`). And what
auditop's default source costs, core/producers.LogCounts: fed the lines
auditd wrote to the lab's log during each run without the listener, as
auditop reads them, timed in this process. The lab holds the kernel lock,
refuses an unsafe machine and restores everything."""

from __future__ import annotations

import statistics
import time

from tests.benchmarks.labrun import LabUnavailable, running_lab
from tests.benchmarks.lock import KernelLock
from tests.benchmarks.table import Figure, Section, unavailable

TITLE = "Counting producers: the listener's cost to the kernel, the log's in auditop"
LIMITS = (8192, 64)  # no losses (drain), then losses (lost at the same load)
MODES = ("without", "paced")  # the anchor first
NAMES = {"without": "no listener", "paced": "listener, paced (default)"}
LOG = "log counting (LogCounts.feed + drain)"
DRAIN, LOST, KAUDITD = "auditd drain", "records lost", "kauditd CPU"
PER_100K, MISSED = "CPU per 100 000 records", "missed"
UNITS = {DRAIN: "records/s", LOST: "per run", KAUDITD: "% of a core", PER_100K: "s",
         MISSED: "records"}
BUDGET_S = 90.0  # the part's whole run; the second limit only if it fits


def subject(mode: str, limit: int) -> str:
    return f"{NAMES[mode]}, backlog_limit {limit}"


def measure(lock: KernelLock, rounds: int = 3, seconds: float = 3.0, processes: int = 2,
            lock_wait: float = 120.0, budget_s: float = BUDGET_S) -> Section:
    from tests.benchmarks.producers_bench import BenchLab

    def missing(why: str) -> Section:
        return Section(TITLE, tuple(
            unavailable(subject(mode, limit), metric, UNITS[metric], why)
            for limit in LIMITS for mode in MODES for metric in _metrics(mode))
            + (unavailable(LOG, PER_100K, "s", why),))

    runs: list[dict] = []
    logs: list[tuple[float, int, int]] = []  # (CPU s, records counted, lines auditd wrote)
    try:
        with running_lab(BenchLab, lock, lock_wait) as (lab, waited):
            started = time.monotonic()
            skipped, stopped = _runs(lab, runs, logs, rounds, seconds, processes, budget_s)
            took = time.monotonic() - started
    except LabUnavailable as exc:
        return missing(str(exc))
    section = _section(runs, logs, rounds=rounds, seconds=seconds, processes=processes,
                       skipped=skipped, stopped=stopped)
    timing = f"the runs took {took:.0f} s (budget {budget_s:.0f} s)" + (
        f", after {waited:.0f} s waiting for the kernel lock (another run held it)"
        if waited >= 1 else "")
    return Section(section.title, section.figures, section.notes + (timing,))


def _runs(lab, runs: list[dict], logs: list, rounds: int, seconds: float, processes: int,
          budget_s: float) -> tuple[str | None, str | None]:
    """Fill `runs` (and `logs`, from each run without the listener); (why the
    second limit was skipped, why the runs stopped), each None if not."""
    from tests.benchmarks import producers_bench

    started = time.monotonic()
    for index, limit in enumerate(LIMITS):
        if index:
            spent = time.monotonic() - started
            per_limit = spent / index
            if spent + per_limit > budget_s:
                return (f"skipped: the runs at {', '.join(map(str, LIMITS[:index]))} took "
                        f"{spent:.0f} s of the part's {budget_s:.0f}"), None
        try:
            for run in producers_bench.rounds(lab, limit, rounds, seconds, list(MODES),
                                              processes):
                runs.append(run)
                if run["mode"] == "without" and run["log_span"] and run["auditd_lines"]:
                    data = producers_bench.LogLines.between(lab.log_path, *run["log_span"])
                    logs.append(log_counting(data, run["flood_s"]) + (run["auditd_lines"],))
        except Exception as exc:  # noqa: BLE001 - the figures so far stand; the reason is shown
            return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return None, None


def log_counting(data: bytes, flood_s: float) -> tuple[float, int]:
    """(thread CPU seconds of LogCounts.feed + drain, records it counted)
    over `data`, complete log lines written in `flood_s`, handed over the
    way auditop reads the log: a read every SYSTEM_PERIOD (the lines written
    meanwhile, at most READ_BUDGET), a window drained every second. Cutting
    the reads and naming syscalls are outside the timing (auditop's reader
    makes the pieces anyway, and resolves the names once)."""
    from auditop.core.producers import LogCounts
    from auditop.probes.auditd_log import READ_BUDGET
    from auditop.probes.multicast import syscall_names
    from auditop.sources.live import SYSTEM_PERIOD

    name = syscall_names().name
    size = min(READ_BUDGET, max(1, int(len(data) / max(flood_s, 1e-3) * SYSTEM_PERIOD)))
    pieces, position = [], 0
    while position < len(data):
        end = data.rfind(b"\n", position, position + size) + 1
        if end <= position:  # one line longer than a read: up to its end
            end = data.find(b"\n", position + size)
            end = len(data) if end < 0 else end + 1
        pieces.append(data[position:end])
        position = end
    per_drain = max(1, round(1.0 / SYSTEM_PERIOD))
    counts, records = LogCounts(), 0
    cpu0 = time.thread_time()
    for i, piece in enumerate(pieces, 1):
        counts.feed(piece)
        if i % per_drain == 0 or i == len(pieces):
            records += counts.drain(SYSTEM_PERIOD * per_drain, syscall_name=name).records
    return time.thread_time() - cpu0, records


def _metrics(mode: str) -> tuple[str, ...]:
    return (DRAIN, LOST, KAUDITD) + ((PER_100K, MISSED) if mode != "without" else ())


def _values(runs: list[dict], metric: str) -> list[float]:
    if metric == DRAIN:  # a run whose log could not be read (0 lines) is left out
        return [r["drain_per_s"] for r in runs if r["auditd_lines"]]
    if metric == LOST:
        return [r["lost"] for r in runs]
    if metric == KAUDITD:
        return [r["kauditd_cpu_s"] / r["flood_s"] * 100 for r in runs]
    listened = [r["listener_run"] for r in runs if "listener_run" in r]
    if metric == PER_100K:
        return [x["cpu_s"] / x["records"] * 1e5 for x in listened if x["records"]]
    return [x["missed"] for x in listened]


def _section(runs: list[dict], logs: list, *, rounds: int, seconds: float, processes: int,
             skipped: str | None, stopped: str | None) -> Section:
    from tests.benchmarks.producers_bench import median_text, paired

    figures = []
    for limit in LIMITS:
        mine = [r for r in runs if r["backlog_limit"] == limit]
        for mode in MODES:
            anchors = (subject("without", limit),) if mode != "without" else ()
            for metric in _metrics(mode):
                values = _values([r for r in mine if r["mode"] == mode], metric)
                if values:
                    figures.append(Figure(subject(mode, limit), metric, UNITS[metric],
                                          tuple(values), anchors=anchors))
                    continue
                why = (skipped if not mine and skipped else
                       f"the runs stopped: {stopped}" if stopped else
                       "the listener counted no records" if metric == PER_100K else
                       "no run measured it")
                figures.append(unavailable(subject(mode, limit), metric, UNITS[metric],
                                           why, anchors=anchors))
    listener = subject("paced", LIMITS[0])
    per_100k = [cpu / records * 1e5 for cpu, records, _ in logs if records]
    if per_100k:
        figures.append(Figure(LOG, PER_100K, "s", tuple(per_100k), anchors=(listener,)))
    else:
        figures.append(unavailable(LOG, PER_100K, "s", f"the runs stopped: {stopped}"
                                   if stopped else "no run without the listener left "
                                   "lines in the log"))
    at = {limit: [r for r in runs if r["backlog_limit"] == limit] for limit in LIMITS}
    notes = [f"{rounds} rounds at each backlog_limit, a round = the same {seconds:g} s flood "
             f"({processes} producer.py processes on the lab's scratch rule, "
             "backlog_wait_time 0) once without the listener and once with it, in rotating "
             "order; opens/s (median, min-max): " + "; ".join(
                 f"{limit}: {median_text([r['ops'] / r['flood_s'] for r in mine])}"
                 for limit, mine in at.items() if mine),
             "auditd drain: lines auditd wrote to the lab's log per second of flood (one "
             "per record); over the same round's anchor (paired, the machine drifts "
             "between rounds): " + "; ".join(
                 f"{limit}: {median_text(paired(mine, 'paced'), '{:.2f}')}"
                 for limit, mine in at.items() if mine),
             "records lost: the kernel's lost over the run; kauditd CPU: its /proc ticks "
             "over the flood; the listener: its process (ProducerCounter drained once a "
             "second, from before the flood to 2 s after it), CPU over the records it got"]
    if logs:
        notes.append(f"log counting: the lines of each run without the listener, read back "
                     "from the lab's log and handed to LogCounts as auditop reads them (the "
                     "lines of 0.5 s a read, a window a second), thread CPU in this process; "
                     f"it counted {sum(r for _, r, _ in logs)} of the "
                     f"{sum(n for _, _, n in logs)} lines; its anchor is the listener's "
                     "whole process, this is the counting alone (auditop reads the log "
                     "anyway, for CONFIG_CHANGE), and it costs the kernel nothing")
    lossy = [r["lost"] for r in at[LIMITS[0]]]
    if lossy and statistics.median(lossy) > 0:
        notes.append(f"the flood outran auditd even at backlog_limit {LIMITS[0]} (the kernel "
                     f"lost {median_text(lossy)} records a run): there too auditd is the "
                     "bottleneck and the drain is what it takes, not the load")
    if skipped:
        notes.append(f"backlog_limit {LIMITS[-1]} {skipped}")
    if stopped:
        notes.append(f"the runs stopped early: {stopped}")
    return Section(TITLE, tuple(figures), tuple(notes))
