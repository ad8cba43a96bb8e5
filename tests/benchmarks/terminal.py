"""Run a full-screen program on a pseudo-terminal and measure it: the time
to its first frame with real values, its steady-state CPU (with its
children's), bytes per second written to the terminal, its peak RSS, and
how many requests its sender children made."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import time
from dataclasses import dataclass, field

from tests.benchmarks.procs import (children_of, cpu_between, reap_orphans, status_kib,
                                    tree, tree_cpu, write_calls)

# Escape sequences removed before looking for the first frame's marker.
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
                  rb"|\x1b[()][A-Z0-9]|\x1b[=>78cDEHM]")


@dataclass(frozen=True, slots=True)
class PtyRun:
    first_frame: float | None  # seconds from start to the marker on the screen
    cpu_percent: tuple[float, ...]  # of one core, per steady interval (with children)
    bytes_per_s: tuple[float, ...]  # to the terminal, per steady interval
    polls_per_s: tuple[float, ...]  # requests sent by its sender children, per interval
    peak_rss_mib: float  # VmHWM of the process itself
    children_rss_mib: float  # VmRSS of its children at the end (its senders)
    exited_early: int | None = None  # exit status if it ended before being asked
    tail: bytes = field(default=b"", repr=False)  # the last output, marker-stripped


def run_in_pty(argv: list[str], *, marker: re.Pattern[bytes] | None, warmup: float,
               seconds: float, interval: float = 5.0, size: tuple[int, int] = (24, 80),
               settle: float = 0.0, quit_key: bytes = b"q",
               env: dict[str, str] | None = None) -> PtyRun:
    """Start argv on a `size` (rows, cols) pty; after `warmup` s measure
    `seconds` s of steady state in pieces of about `interval` s. With seconds 0 it
    stops `settle` s after the marker (or after `warmup` s without one). Then it sends
    `quit_key` and, if need be, SIGTERM and SIGKILL."""
    known = set(children_of(os.getpid()))
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec, never return into the benchmark
        try:
            os.environ.update(env or {})
            os.environ.update(TERM="xterm-256color", LINES=str(size[0]),
                              COLUMNS=str(size[1]))
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    seen = b""
    first_frame: float | None = None
    cpu, out, polls = [], [], []
    piece_bytes = 0
    piece_at = piece_cpu = piece_polls = None
    exited: int | None = None
    pieces = max(1, round(seconds / interval)) if seconds else 0
    interval = seconds / pieces if seconds else interval
    while True:
        now = time.monotonic()
        if seconds == 0 and (now - start >= warmup or first_frame is not None
                             and now - start >= first_frame + settle):
            break
        if seconds and len(cpu) >= pieces:
            break
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the program has gone
                chunk = b""
            if not chunk:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    exited = os.waitstatus_to_exitcode(status)
                break
            if piece_at is not None:
                piece_bytes += len(chunk)
            if first_frame is None and marker is not None:
                seen = (seen + ANSI.sub(b"", chunk))[-50_000:]
                if marker.search(seen):
                    first_frame = time.monotonic() - start
        now = time.monotonic()
        if seconds and now - start >= warmup:
            if piece_at is None:
                piece_at, piece_cpu, piece_polls = now, tree_cpu(pid)[0], _polls(pid)
            elif now - piece_at >= interval:
                used, polled = tree_cpu(pid)[0], _polls(pid)
                span = now - piece_at
                cpu.append(100 * cpu_between(piece_cpu, used) / span)
                out.append(piece_bytes / span)
                polls.append((polled - piece_polls) / span)
                piece_at, piece_cpu, piece_polls, piece_bytes = now, used, polled, 0
    # The kernel keeps the peak since exec (read before exec, the forked copy
    # of the benchmark would count); the senders' RSS is what they hold now.
    hwm = status_kib(pid)
    children_rss = sum(status_kib(p, "VmRSS") for p in tree(pid) if p != pid)
    if exited is None:
        exited_early = None
        _stop(pid, fd, quit_key)
    else:
        exited_early = exited
    os.close(fd)
    reap_orphans(known)
    return PtyRun(first_frame, tuple(cpu), tuple(out), tuple(polls), hwm / 1024,
                  children_rss / 1024, exited_early, seen[-2000:])


def _polls(pid: int) -> int:
    """Requests its children have sent so far: one write each (a sender's
    report, the ticker's answer)."""
    return sum(write_calls(child) for child in tree(pid) if child != pid)


def _stop(pid: int, fd: int, quit_key: bytes, patience: float = 3.0) -> None:
    """Ask it to quit, keep draining its output, then insist."""
    try:
        os.write(fd, quit_key)
    except OSError:
        pass
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            if select.select([fd], [], [], 0.05)[0]:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
    os.waitpid(pid, 0)
