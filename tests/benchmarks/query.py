"""Section 1: one status query. auditop's poll path in this process
(AuditClient.get_status in a loop; LiveSource.poll at the sampler's default
10 Hz, so its /proc reads come as often as they do in use) beside a C
AUDIT_GET send/recv loop and `auditctl -s` run as a process.

CPU per query is the calling thread's CPU (CLOCK_THREAD_CPUTIME_ID: the
client reads its answer on the calling thread) plus the sender child's, from
/proc/PID/schedstat (the request goes out through a child process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.benchmarks.procs import children_of, run_measured, task_cpu_ns
from tests.benchmarks.table import Figure, Section, unavailable

C_LOOP = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <time.h>
#include <unistd.h>
static double ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    long period_us = argc > 2 ? atol(argv[2]) : 0;  /* 0: back to back */
    int s = socket(AF_NETLINK, SOCK_RAW, 9);
    struct sockaddr_nl a = {.nl_family = AF_NETLINK};
    if (s < 0 || bind(s, (void *)&a, sizeof a) < 0) return 1;
    struct nlmsghdr h = {.nlmsg_len = 16, .nlmsg_type = 1000, .nlmsg_flags = NLM_F_REQUEST};
    char buf[8192];
    double wall = 0, cpu = ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < n; i++) {
        double start = ns(CLOCK_MONOTONIC);
        h.nlmsg_seq = i + 1;
        if (send(s, &h, 16, 0) < 0 || recv(s, buf, sizeof buf, 0) < 0) return 1;
        wall += ns(CLOCK_MONOTONIC) - start;
        if (period_us) usleep(period_us);
    }
    printf("%f %f\n", wall / n / 1e3, (ns(CLOCK_PROCESS_CPUTIME_ID) - cpu) / n / 1e3);
    return 0;
}
"""
C_FAST = "C AUDIT_GET loop, back to back"
C_PACED = "C AUDIT_GET loop at 10 Hz"
AUDITCTL = "auditctl -s (a process) at 10 Hz"
CLIENT_FAST = "AuditClient.get_status, back to back"
CLIENT_PACED = "AuditClient.get_status at 10 Hz"
LIVE_PACED = "LiveSource.poll at 10 Hz"
ORDER = (C_FAST, C_PACED, AUDITCTL, CLIENT_FAST, CLIENT_PACED, LIVE_PACED)
ANCHORED = {CLIENT_FAST: (C_FAST, AUDITCTL), CLIENT_PACED: (C_PACED, AUDITCTL),
            LIVE_PACED: (C_PACED, AUDITCTL)}
WALL, CPU, UNIT = "wall per poll", "CPU per poll", "us"
PERIOD = 0.1  # the sampler's default pace


def measure(workdir: Path, rounds: int = 5, count: int = 1000, paced: int = 15) -> Section:
    """Each path `rounds` times, the paths taking turns, so a noisy moment
    does not land on one path only. A round is `count` queries back to back,
    or `paced` queries at 10 Hz: an idle process woken ten times a second
    pays for waking (and so does its sender), which a tight loop hides."""
    from auditop.kernel.client import AuditClient
    from auditop.sources.live import LiveSource

    c_loop, why_no_c = _build_c_loop(workdir)
    results: dict[str, dict[str, list[float]]] = {}

    failures: dict[str, int] = {}

    def add(subject: str, wall_us: float, cpu_us: float, failed: int = 0) -> None:
        failures[subject] = failures.get(subject, 0) + failed
        results.setdefault(subject, {WALL: [], CPU: []})
        results[subject][WALL].append(wall_us)
        results[subject][CPU].append(cpu_us)

    def c_round(n: int, period_us: int) -> tuple[float, float]:
        out = subprocess.run([str(c_loop), str(n), str(period_us)], check=True,
                             capture_output=True, text=True, timeout=60).stdout
        wall_us, cpu_us = map(float, out.split())
        return wall_us, cpu_us

    have_auditctl = shutil.which("auditctl") is not None
    client = AuditClient()
    source = LiveSource()
    try:
        client.get_status()
        source.poll()  # warm up: senders started, modules imported
        for _ in range(rounds):
            if c_loop is not None:
                add(C_FAST, *c_round(count, 0))
                add(C_PACED, *c_round(paced, int(PERIOD * 1e6)))
            if have_auditctl:
                for _ in range(max(1, paced // 5)):
                    run = run_measured(["auditctl", "-s"], timeout=10)
                    if run.returncode == 0:
                        add(AUDITCTL, run.wall * 1e6, run.cpu * 1e6)
                    time.sleep(max(0.0, PERIOD - run.wall))
            add(CLIENT_FAST, *_in_process(client.get_status, count))
            add(CLIENT_PACED, *_in_process(client.get_status, paced, period=PERIOD))
            add(LIVE_PACED, *_in_process(source.poll, paced, period=PERIOD))
    finally:
        source.close()
        client.close()
    figures = []
    if c_loop is None:
        figures += [unavailable(subject, metric, UNIT, why_no_c)
                    for subject in (C_FAST, C_PACED) for metric in (WALL, CPU)]
    if not have_auditctl:
        why = "auditctl not installed (apt-get install -y auditd)"
        figures += [unavailable(AUDITCTL, metric, UNIT, why) for metric in (WALL, CPU)]
    elif AUDITCTL not in results:
        figures += [unavailable(AUDITCTL, metric, UNIT, "auditctl -s failed")
                    for metric in (WALL, CPU)]
    for subject, metrics in results.items():
        for metric in (WALL, CPU):
            figures.append(Figure(subject, metric, UNIT, tuple(metrics[metric]),
                                  anchors=ANCHORED.get(subject, ())))
    notes = (f"{rounds} rounds, the paths taking turns; a round is {count} queries back "
             f"to back or {paced} at 10 Hz; auditctl -s: {max(1, paced // 5)} runs a round, "
             "each from start to exit",
             "auditop's CPU is the calling thread's plus its sender child's (schedstat); "
             "the C loop's CLOCK_PROCESS_CPUTIME_ID; auditctl's from wait4",
             "LiveSource.poll reads /proc and the sysctls every 0.5 s as well "
             "(auditop/sources/live.py SYSTEM_PERIOD)")
    notes += tuple(f"{subject}: {n} polls not answered (another run was loading the "
                   "kernel); the figures are over the answered ones"
                   for subject, n in failures.items() if n)
    return Section("One status query", tuple(sorted(
        figures, key=lambda f: (ORDER.index(f.subject), f.metric != WALL))), notes)


def _in_process(call, count: int, period: float = 0.0) -> tuple[float, float, int]:
    """(wall us, CPU us) per answered call, this thread's CPU plus the sender
    children's; and how many calls got no answer (the kernel held a sender,
    or nothing answered: another run loading the kernel)."""
    from auditop.core.errors import AuditError

    senders = children_of(os.getpid())
    before = sum(task_cpu_ns(pid) for pid in senders)
    thread0, wall0 = time.thread_time_ns(), time.perf_counter_ns()
    waited, failed = 0, 0
    next_at = time.monotonic()
    for _ in range(count):
        start = time.perf_counter_ns()
        try:
            call()
        except AuditError:
            failed += 1
            time.sleep(period or 0.05)
            continue
        waited += time.perf_counter_ns() - start
        if period:
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))
    thread_ns = time.thread_time_ns() - thread0
    wall_ns = waited if period else time.perf_counter_ns() - wall0
    # A sender started during the round counts from 0.
    sender_ns = sum(task_cpu_ns(pid) for pid in children_of(os.getpid())) - before
    answered = max(count - failed, 1)
    return wall_ns / answered / 1e3, (thread_ns + sender_ns) / answered / 1e3, failed


def _build_c_loop(directory: Path) -> tuple[Path | None, str]:
    """The C loop compiled in `directory`, or None and why not."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None, "no C compiler (apt-get install -y gcc)"
    source, exe = directory / "get.c", directory / "get"
    source.write_text(C_LOOP)
    built = subprocess.run([gcc, "-O2", "-o", str(exe), str(source)], capture_output=True,
                           text=True, timeout=60)
    if built.returncode != 0:
        return None, f"gcc failed: {built.stderr.strip().splitlines()[-1:]}"
    return exe, ""
