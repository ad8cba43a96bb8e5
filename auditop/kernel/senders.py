"""Senders: small child processes that send auditop's requests to the kernel.

Since 5.17 the kernel puts the sender of *any* audit request to sleep, after
processing it, for up to backlog_wait_time (60 s by default) while the backlog
is over its limit, uninterruptibly (kernel/audit.c audit_receive). The reply is
queued before that sleep, so whoever reads the socket gets it at once; but a
thread held there cannot be killed, and a process with such a thread cannot
finish exiting: `q` would hang for a minute. So auditop never sends from its
own process. Each sender is a child that shares the netlink socket (same
portid: the replies reach auditop's reader) and sends what it is given; a held
child only holds itself, and outlives auditop harmlessly when auditop quits.

A child is busy from the moment it is handed a request until it reports that
send() returned. At most `limit` may be busy at once; one more is allowed for
a change, so a change is never starved by polls the kernel is holding. While
the kernel holds senders, polls are spaced by the expected hold over `limit`
(2 s and 6 senders: one every 0.33 s), so the answers spread over the
throttle instead of using every sender in its first tenth of a second
(at 50 Hz, before any is known to be held).

A sender can die (the OOM killer, an admin's `pkill python`). One that dies
idle is found when its request cannot be written: it is dropped and another
takes the request. One that dies with a request under way never reports;
`reap()` finds it (waitpid, only for senders busy longer than HELD_AFTER)
and returns the seq it carried, so the client asks again instead of taking
auditop's own failure for the kernel's silence.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time

# Request: one FRAME-byte write (u32 length, the netlink message, padding), so
# the child takes it in one read. Report: u32 sender, u32 seq, i32 errno.
FRAME = 128
# A sender still in send() this long after its request went out is held by the
# kernel (an answered request returns from send() in well under a millisecond;
# a busy machine can take a scheduler tick or two to run the sender again).
HELD_AFTER = 0.1
_LENGTH = struct.Struct("=I")
REPORT = struct.Struct("=IIi")

# The child, run with `python -I -S -c`: nothing imported but os and socket,
# so it starts in ~10 ms and takes ~6 MiB. stdin: requests; argv: its number,
# the socket's fd, the shared report pipe's fd. Ends at EOF on stdin (auditop
# closed it, or quit).
_CHILD = r"""
import os, signal, socket, struct, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
ident, sock_fd, report_fd = map(int, sys.argv[1:4])
sock = socket.socket(fileno=sock_fd)
length, report = struct.Struct("=I"), struct.Struct("=IIi")
FRAME = %d
while True:
    frame = os.read(0, FRAME)
    while frame and len(frame) < FRAME:
        more = os.read(0, FRAME - len(frame))
        if not more:
            break
        frame += more
    if len(frame) < FRAME:
        raise SystemExit(0)
    message = frame[4:4 + length.unpack_from(frame)[0]]
    seq = struct.unpack_from("=I", message, 8)[0]
    try:
        sock.send(message)
        code = 0
    except OSError as exc:
        code = exc.errno or 5
    try:
        os.write(report_fd, report.pack(ident, seq, code))
    except OSError:  # auditop closed the pipe (it quit, or took the answer and closed)
        raise SystemExit(0)
""" % FRAME


class Sender:
    def __init__(self, ident: int, sock_fd: int, report_fd: int) -> None:
        self.ident = ident
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _CHILD, str(ident), str(sock_fd),
             str(report_fd)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            bufsize=0, pass_fds=(sock_fd, report_fd), start_new_session=True)
        self._stdin = self.process.stdin.fileno()
        self.busy_since: float | None = None  # monotonic, while a send is under way
        self.seq: int | None = None

    def send(self, message: bytes, seq: int, now: float) -> None:
        """Hand the child a request; OSError (EPIPE) when it has died. Busy
        only once the request is written: a child that never got one is
        never waited for."""
        frame = _LENGTH.pack(len(message)) + message
        os.write(self._stdin, frame.ljust(FRAME, b"\0"))
        self.busy_since, self.seq = now, seq

    def dead(self) -> bool:
        """Has the child exited (reaping it if so)?"""
        return self.process.poll() is not None

    def close(self) -> None:
        """Close its input: an idle child exits at once, a held one when the
        kernel lets it go. Never waits for it."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.process.poll()  # reap it if it has already gone


class SenderPool:
    """Hands requests to idle senders, starting one when none is idle, up to
    `limit` busy at once (plus one reserved for changes)."""

    def __init__(self, sock_fd: int, limit: int = 6,
                 clock=time.monotonic) -> None:
        self.limit = limit
        self.expected_hold = 0.0  # seconds a held sender sleeps (backlog_wait_time)
        self._last_hold = 0.0  # how long the last held sender slept
        self._last_send = float("-inf")
        self._sock_fd = sock_fd
        self._clock = clock
        self._lock = threading.Lock()
        self._senders: list[Sender] = []
        self._next_ident = 0
        self.deaths = 0  # senders found dead, since the pool was made
        self.report_fd, self._report_write = os.pipe()
        self._closed = False

    def send(self, message: bytes, seq: int, *, reserved: bool = False,
             spawn: bool = True, held_after: float = HELD_AFTER) -> Sender:
        """Hand `message` to an idle sender. Raises LookupError(held, longest)
        when `limit` senders (limit + 1 for `reserved`) are busy, or, while
        the kernel holds some, when this poll comes before its turn; with
        `spawn` False, also when none is known to be idle (the caller has
        reports to read first)."""
        with self._lock:
            if self._closed:
                raise OSError(9, "the audit connection is closed")
            now = self._clock()
            busy = [now - s.busy_since for s in self._senders if s.busy_since is not None]
            held = [seconds for seconds in busy if seconds > held_after]
            # Paced while a sender is held, and from the first answer that
            # says the kernel holds senders (expected_hold): a sender is only
            # known to be held after `held_after`, and at 50 Hz every sender
            # would be spent, and held together, before that.
            if not reserved and (held or (busy and self.expected_hold)):
                hold = max(self.expected_hold, self._last_hold, *busy)
                if now - self._last_send < hold / self.limit:
                    raise LookupError(len(busy), max(busy))
            while True:
                sender = self._pick(reserved, spawn, held)
                try:
                    sender.send(message, seq, now)
                    break
                except OSError:  # it died idle: never again, another takes this
                    self._drop(sender)
            if not reserved:  # the pace is the polls'; a change does not delay the next
                self._last_send = now
            return sender

    def _pick(self, reserved: bool, spawn: bool, held: list[float]) -> Sender:
        idle = [s for s in self._senders if s.busy_since is None]
        if idle:
            return idle[0]
        if not spawn:
            raise LookupError(len(held), max(held, default=0.0))
        cap = self.limit + (1 if reserved else 0)
        if len(self._senders) >= cap:
            raise LookupError(len(self._senders), self.held_seconds(self._clock()))
        sender = Sender(self._next_ident, self._sock_fd, self._report_write)
        self._next_ident += 1
        self._senders.append(sender)
        return sender

    def _drop(self, sender: Sender) -> None:
        self._senders.remove(sender)
        self.deaths += 1
        sender.close()

    def reap(self, held_after: float = HELD_AFTER) -> list[int]:
        """Drop the senders that died with a request under way; the seqs
        they carried (their answers will never come from them). Only senders
        busy longer than `held_after` are asked: one waitpid each."""
        now = self._clock()
        with self._lock:
            dead = [s for s in self._senders if s.busy_since is not None
                    and now - s.busy_since > held_after and s.dead()]
            for sender in dead:
                self._drop(sender)
        return [s.seq for s in dead if s.seq is not None]

    def sent(self, ident: int, held_after: float = HELD_AFTER) -> None:
        """A child reported that its send() returned."""
        with self._lock:
            for sender in self._senders:
                if sender.ident != ident:
                    continue
                if sender.busy_since is not None:
                    took = self._clock() - sender.busy_since
                    if took > held_after:
                        self._last_hold = took
                sender.busy_since = None
                sender.seq = None

    def held(self, after: float = HELD_AFTER) -> tuple[int, float]:
        """(senders busy for longer than `after` seconds, the longest)."""
        now = self._clock()
        with self._lock:
            times = [now - s.busy_since for s in self._senders
                     if s.busy_since is not None and now - s.busy_since > after]
        return len(times), max(times, default=0.0)

    def held_seconds(self, now: float) -> float:
        return max((now - s.busy_since for s in self._senders
                    if s.busy_since is not None), default=0.0)

    def is_busy(self, sender: Sender) -> bool:
        with self._lock:
            return sender.busy_since is not None

    def close_idle(self) -> None:
        """End the idle senders (their memory), keeping the busy ones."""
        with self._lock:
            idle = [s for s in self._senders if s.busy_since is None]
            self._senders = [s for s in self._senders if s.busy_since is not None]
        for sender in idle:
            sender.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            senders, self._senders = self._senders, []
        for sender in senders:
            sender.close()
        os.close(self._report_write)
