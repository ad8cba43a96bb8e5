"""The ticker: a child process that keeps the pace of the status polls.

Polled ten times a second (fifty while the backlog is busy), auditop's own
process would wake for every poll, and on a VM each wake of an idle Python
thread costs more than the poll itself (docs/performance.md, issue 15). The
ticker wakes instead: on its own NETLINK_AUDIT socket it reads the answer to
its previous AUDIT_GET, sends the next one, and writes what it read to a
pipe; auditop reads the pipe once a display window (or sooner, when asked).
It decides the fast pace itself, by the same rule as the Sampler
(core/sampler.py): the answer that shows a busy backlog is in its hands one
period after the request, as it is in the Sampler's.

The kernel can hold the ticker in send() for backlog_wait_time, like any
sender (senders.py): it then hangs up its pipe (below), and the live source
goes back to asking through its senders, which are built for that
(sources/live.py). A held ticker only holds itself, and ends once let go.

A record on the pipe: HEAD (when the answer was read, monotonic and wall
clock; when its request went out; the errno of a send that failed; the
answer's length), then the answer's bytes.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from dataclasses import dataclass

from auditop.kernel.senders import HELD_AFTER

HEAD = struct.Struct("=dddiI")

# The child, run with `python -I -S -c`: argv: its period, its fast period,
# the busy fill (a share of backlog_limit), how long busy lasts, how long a
# send may take before the kernel is taken to hold it, the pipe's fd.
# stdin: b"n" asks for a poll now; EOF ends it.
#
# Held in send() (uninterruptible), the ticker cannot say so: an interval
# timer armed around each send raises SIGALRM, which a thread waiting in
# sigwait (no wake until then) takes; it forwards the answers waiting in the
# socket (the kernel queues the answer before it holds the sender) and
# closes the pipe: the hang-up wakes auditop, whose senders go on at once.
_CHILD = r"""
import os, select, signal, socket, struct, sys, threading, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:  # woken, it does not preempt auditop (a context switch more per poll)
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
except OSError:
    pass
period, fast, fill, hold, held_after = map(float, sys.argv[1:6])
out = int(sys.argv[6])
head = struct.Struct("=dddiI").pack
nlmsg = struct.Struct("=IHHI").unpack_from  # length, type, flags, seq
get = struct.Struct("=IHHII").pack  # AUDIT_GET, NLM_F_REQUEST
status = struct.Struct("=III").unpack_from  # backlog_limit, lost, backlog
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)
sock.bind((0, 0))
recv, send, write, DONTWAIT = sock.recv, sock.send, os.write, socket.MSG_DONTWAIT
wait = select.poll()
wait.register(0, select.POLLIN)
clock, wall, arm, ALARM = time.monotonic, time.time, signal.setitimer, signal.ITIMER_REAL
seq, sent, busy_until, lost = 0, {}, float("-inf"), None


def answers(now):
    records = []
    while True:
        try:
            data = recv(65536, DONTWAIT)
        except (BlockingIOError, OSError):
            return records
        if len(data) >= 16:
            answered = nlmsg(data)[3]
            records.append((head(now, wall(), sent.pop(answered, now), 0, len(data)) + data,
                            data))


def held():
    signal.sigwait({signal.SIGALRM})
    try:
        write(out, b"".join(record for record, _ in answers(clock())))
    except OSError:
        pass
    os.close(out)  # the hang-up: auditop's senders take the pace back
    os._exit(0)  # done when the kernel lets the sending thread go


signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
threading.Thread(target=held, daemon=True).start()
next_at = clock()
while True:
    if wait.poll(max(0.0, next_at - clock()) * 1000):
        if not os.read(0, 64):
            raise SystemExit(0)
        next_at = clock()
        continue
    now, records = clock(), []
    for record, data in answers(now):
        records.append(record)
        if len(data) >= 48 and nlmsg(data)[1] == 1000:
            limit, new_lost, backlog = status(data, 36)
            if (limit and backlog >= fill * limit) or (lost is not None and new_lost != lost):
                busy_until = now + hold
            lost = new_lost
    seq += 1
    if len(sent) > 16:  # answers that never came
        sent.clear()
    sent[seq] = clock()
    arm(ALARM, held_after)
    try:
        send(get(16, 1000, 1, seq, 0))
    except OSError as exc:
        del sent[seq]
        records.append(head(now, wall(), now, exc.errno or 5, 0))
    arm(ALARM, 0)
    if records:
        try:
            write(out, b"".join(records))
        except OSError:  # auditop closed the pipe: it quit
            raise SystemExit(0)
    next_at = max(next_at + (fast if now < busy_until else period), clock())
"""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the ticker read: `data` (one datagram), or `errno` when its
    request could not be sent."""

    read_mono: float
    read_wall: float
    sent_mono: float
    errno: int
    data: bytes


class Ticker:
    def __init__(self, period: float, fast_period: float, fill: float, hold: float,
                 held_after: float = HELD_AFTER) -> None:
        self._read, write = os.pipe()
        os.set_blocking(self._read, False)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _CHILD, repr(period), repr(fast_period),
                 repr(fill), repr(hold), repr(held_after), str(write)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                bufsize=0, pass_fds=(write,), start_new_session=True)
        except OSError:
            os.close(self._read)
            raise
        finally:
            os.close(write)
        self._buffer = b""
        self.ended = False  # its end of the pipe closed: it died

    def fileno(self) -> int:
        """The pipe its answers come on: readable when one has; a hang-up
        when it died (a poll() for no event at all still reports that)."""
        return self._read

    def read(self) -> list[Answer]:
        """The answers written since the last call, oldest first; never waits."""
        chunks = [self._buffer]
        while True:
            try:
                chunk = os.read(self._read, 65536)
            except BlockingIOError:
                break
            except OSError:  # closed meanwhile (auditop is quitting)
                self.ended = True
                break
            if not chunk:
                self.ended = True
                break
            chunks.append(chunk)
        data, answers, offset = b"".join(chunks), [], 0
        while len(data) - offset >= HEAD.size:
            read_mono, read_wall, sent_mono, errno, length = HEAD.unpack_from(data, offset)
            end = offset + HEAD.size + length
            if end > len(data):
                break
            answers.append(Answer(read_mono, read_wall, sent_mono, errno,
                                  data[offset + HEAD.size:end]))
            offset = end
        self._buffer = data[offset:]
        return answers

    def poll_now(self) -> None:
        """Ask for a poll at once (a change wants its read-back)."""
        try:
            self.process.stdin.write(b"n")
        except (OSError, ValueError):  # it has gone, or was closed meanwhile
            pass  # the live source finds its answers stopped

    def close(self) -> None:
        """Never waits: a ticker the kernel holds ends when it is let go."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.process.poll()
        if self._read >= 0:
            os.close(self._read)
            self._read = -1
