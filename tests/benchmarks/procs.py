"""What a process and its children cost, read from /proc.

auditop sends through child processes (auditop/kernel/senders.py), so the
cost of a command is its own CPU plus its children's. The tree is found by
scanning /proc for parent pids (this kernel has no /proc/PID/task/TID/children).
A child that auditop leaves behind when it exits would be re-parented to init
and its CPU lost; the benchmark makes itself a child subreaper, so such
children come back to it and are reaped with their rusage.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process (prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3 on)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def parents() -> dict[int, int]:
    """pid -> parent pid, for every process."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := _stat(int(name))) is not None:
            found[int(name)] = int(fields[1])
    return found


def tree(pid: int) -> list[int]:
    """pid and every descendant."""
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, ()))
    return out


def cpu_seconds(pid: int, *, with_reaped: bool = True) -> float:
    """CPU of one process, all threads (utime + stime), plus its reaped
    children's (cutime + cstime)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    used = int(fields[11]) + int(fields[12])
    if with_reaped:
        used += int(fields[13]) + int(fields[14])
    return used / CLK_TCK


@dataclass(frozen=True, slots=True)
class CpuReading:
    """The CPU a process tree has used so far, two ways: exact (the sum of
    every live thread's /proc/PID/task/TID/schedstat, ns) and coarse
    (utime + stime + cutime + cstime, 10 ms ticks, which keeps what exited
    threads and reaped children used)."""

    exact_ns: int
    coarse: float
    tasks: frozenset[tuple[int, int]]  # (pid, tid) counted in exact_ns


def tree_cpu(pid: int) -> tuple[CpuReading, list[int]]:
    """(CPU of pid and all its descendants, the pids counted)."""
    pids = tree(pid)
    exact, tasks = 0, set()
    for process in pids:
        try:
            tids = os.listdir(f"/proc/{process}/task")
        except OSError:
            continue
        for tid in tids:
            used = task_cpu_ns(f"{process}/task/{tid}")
            exact += used
            tasks.add((process, int(tid)))
    return CpuReading(exact, sum(cpu_seconds(p) for p in pids), frozenset(tasks)), pids


def cpu_between(before: CpuReading, after: CpuReading) -> float:
    """Seconds of CPU used between two readings: exact when every thread
    counted before is still there, else from the coarse counters."""
    if before.tasks <= after.tasks:
        return (after.exact_ns - before.exact_ns) / 1e9
    return after.coarse - before.coarse


def task_cpu_ns(pid: int | str) -> int:
    """CPU of one task in ns (/proc/PID/schedstat, or "PID/task/TID"):
    exact, where utime + stime move in 10 ms ticks."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def status_kib(pid: int, field: str = "VmHWM") -> int:
    """A /proc/PID/status size in KiB (VmHWM: peak RSS; VmRSS: now); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def write_calls(pid: int) -> int:
    """write-family system calls made so far (/proc/PID/io syscw): a sender
    makes exactly one per request, its report."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("syscw:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children_of(pid: int) -> list[int]:
    return [child for child, parent in parents().items() if parent == pid]


@dataclass(frozen=True, slots=True)
class Finished:
    returncode: int
    wall: float  # seconds from start to exit
    cpu: float  # seconds: the process, what it reaped, and the orphans we reaped
    stdout: bytes


def run_measured(argv: list[str], timeout: float, env: dict[str, str] | None = None
                 ) -> Finished:
    """Run argv to its end (killed after `timeout` s): its wall time, and the
    CPU of it and every descendant, the orphans it left included."""
    import subprocess
    import threading

    known = set(children_of(os.getpid()))
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env)
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        out = process.stdout.read()
        process.stdout.close()
        # Reaped here, not by Popen, for its rusage (it holds the children it reaped).
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime + reap_orphans(known)
    return Finished(process.returncode, wall, cpu, out)


def reap_orphans(known: set[int], timeout: float = 3.0) -> float:
    """Wait (bounded) for children of ours that were not there before (a
    command's senders, re-parented to us when it exited); their CPU."""
    cpu, deadline = 0.0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [pid for pid in children_of(os.getpid()) if pid not in known]
        if not new:
            break
        for pid in new:
            try:
                done, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                cpu += usage.ru_utime + usage.ru_stime
        time.sleep(0.02)
    return cpu
