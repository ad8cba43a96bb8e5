"""The NETLINK_AUDIT control socket: AUDIT_GET and AUDIT_SET, with replies
received independently of sending.

Since kernel 5.17 the kernel puts the sender of any audit request to sleep,
after processing it, for up to backlog_wait_time while the backlog is over
its limit; the reply is queued *before* that sleep. So receiving is apart
from sending: child processes send (senders.py), and a caller waiting for an
answer reads the socket itself, handing every other answer to whoever waits
for that sequence number (one reader at a time; the others wait for theirs
and take over reading if it is late). A sender the kernel holds does not hide
the answer, does not block the caller, and does not keep auditop alive when
it quits. The poller, the common caller, thus waits for its answer in its own
thread: no thread hop per poll (it costs a third of a poll's CPU); better,
it asks at one wake (ask_status) and reads the answer at the next (answer),
when it is already in the socket: one sleep per poll instead of two. At most
`max_senders` may be held at once; past that a request fails at once with
SendersHeld rather than queue behind them.

The socket is a plain AF_NETLINK socket: pyroute2's synchronous socket is one
per thread (0.9.7), which a reader thread and child senders cannot share.
The messages themselves are pyroute2 message classes (wire.py).
"""

from __future__ import annotations

import errno
import itertools
import os
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from auditop.core.changes import SetAck
from auditop.core.errors import (AuditError, InvalidValue, NoAnswer, SendersHeld,
                                 from_errno)
from auditop.core.model import AuditStatus
from auditop.kernel import wire
from auditop.kernel.senders import HELD_AFTER, REPORT, SenderPool
from auditop.probes.namespaces import in_initial_pid_namespace

REPORT_WAIT = 0.005  # seconds to wait for a busy sender's report before starting another

RECV_BUFFER = 65536
DEFAULT_TIMEOUT = 2.0
MAX_SENDERS = 6
# While a request waits longer than this, its sender is checked for death
# every REAP_EVERY seconds (an answered request needs no check at all).
REAP_EVERY = 0.25


class _SenderLost(Exception):
    """The child carrying a request died before it reported: auditop's own
    failure, never the kernel's. The request is sent again."""


class Pool(Protocol):
    """Who sends: SenderPool (child processes), or a test's stand-in."""

    report_fd: int | None

    expected_hold: float

    def send(self, message: bytes, seq: int, *, reserved: bool = False,
             spawn: bool = True) -> object: ...

    def sent(self, ident: int) -> None: ...

    def held(self, after: float = HELD_AFTER) -> tuple[int, float]: ...

    def is_busy(self, sender: object) -> bool: ...

    def reap(self, held_after: float = HELD_AFTER) -> list[int]: ...

    def close(self) -> None: ...


class _Waiter:
    """One request's answer. A bare lock, taken at birth and released once
    answered, is the cheapest one-shot signal Python has: an Event costs a
    Condition and two more locks per request, at up to 50 requests a second."""

    __slots__ = ("_lock", "finished", "want_type", "message", "error")

    def __init__(self, want_type: int | None) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self.finished = False
        self.want_type = want_type
        self.message: wire.Message | None = None
        self.error: AuditError | None = None

    def set(self) -> None:
        if not self.finished:
            self.finished = True
            try:
                self._lock.release()
            except RuntimeError:
                pass  # answered twice at once (an error and the reply): one counts

    def wait(self, timeout: float) -> bool:
        """Block until answered or `timeout` s; True when answered."""
        if not self.finished and self._lock.acquire(timeout=max(timeout, 0.0)):
            self._lock.release()
        return self.finished


@dataclass(frozen=True, slots=True)
class Pending:
    """A status request sent and not read yet (ask_status())."""

    seq: int
    waiter: _Waiter
    sent_at: float  # monotonic
    sent_wall: float
    deadline: float  # monotonic: NoAnswer after this


class AuditClient:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, *, sock: socket.socket | None = None,
                 pool: Pool | None = None, max_senders: int = MAX_SENDERS) -> None:
        """`sock` and `pool` replace the kernel socket and the child senders
        (tests script the kernel's bytes)."""
        self.timeout = timeout
        if sock is None:
            sock = _open_netlink()
        self._socket = sock
        self._pool = pool if pool is not None else SenderPool(sock.fileno(), max_senders)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()  # the waiters table
        self._reading = threading.Lock()  # held by the one caller reading the socket
        self._waiters: dict[int, _Waiter] = {}
        self._closed = threading.Event()
        self._wake_read, self._wake_write = os.pipe()  # close() wakes the reader
        self._poll = select.poll()
        self._poll.register(self._socket, select.POLLIN)
        self._poll.register(self._wake_read, select.POLLIN)
        if self._pool.report_fd is not None:
            os.set_blocking(self._pool.report_fd, False)
            self._poll.register(self._pool.report_fd, select.POLLIN)

    # -- public API -------------------------------------------------------

    def get_status(self, timeout: float | None = None,
                   waiting: Callable[[], None] | None = None) -> AuditStatus:
        """`waiting` is called every REAP_EVERY s while the answer is late
        (the caller's clock goes on: the Monitor ticks); what it raises ends
        the wait."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            seq, waiter, _ = self._request(wire.encode_get, wire.AUDIT_GET, reserved=False)
            try:
                return wire.decode_status(self._wait(seq, waiter, timeout, deadline,
                                                     waiting))
            except _SenderLost:
                continue  # _wait raised it only with time left

    def ask_status(self) -> Pending:
        """Send one AUDIT_GET now and return at once; answer() reads its
        answer later. A poller that asks at one wake and reads at the next
        finds the answer waiting in the socket: it sleeps once per poll, not
        twice (once for its pace, once for the answer). SendersHeld when it
        cannot be sent."""
        sent_at, sent_wall = time.monotonic(), time.time()
        seq, waiter, _ = self._request(wire.encode_get, wire.AUDIT_GET, reserved=False)
        return Pending(seq, waiter, sent_at, sent_wall, sent_at + self.timeout)

    def answer(self, pending: Pending, waiting: Callable[[], None] | None = None
               ) -> AuditStatus:
        """The answer to ask_status(): at once when it has come, without a
        sleep; else waited for until the request's deadline (`waiting` as in
        get_status). Asked again if its sender died."""
        try:
            return wire.decode_status(self._wait(pending.seq, pending.waiter, None,
                                                 pending.deadline, waiting))
        except _SenderLost:
            return self.get_status(max(pending.deadline - time.monotonic(), 0.0), waiting)

    @property
    def sender_deaths(self) -> int:
        """auditop's senders found dead (and replaced) since it started."""
        return getattr(self._pool, "deaths", 0)

    def set(self, field: str, value: int, timeout: float | None = None) -> SetAck:
        """Send one AUDIT_SET and wait for its ACK. Reading the value back is
        the caller's (the next answered status). Never sets failure, enabled
        or pid. When the ACK does not come but the sender is held, the kernel
        has processed the request: it holds senders only afterwards."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        # A change can end the throttle (a limit raised above the queue): the
        # poll that reads it back goes at once, its answer paces the next.
        self.expect_hold(0.0)
        try:
            while True:  # setting a value twice (its sender died) is harmless
                seq, waiter, sender = self._request(
                    lambda s: wire.encode_set(s, field, value), None, reserved=True)
                try:
                    self._wait(seq, waiter, timeout, deadline)
                    break
                except _SenderLost:
                    continue
        except InvalidValue as exc:
            raise InvalidValue(f"{field} = {value}") from exc
        except NoAnswer:
            if self._busy(sender):
                return SetAck(field, value, acked=False, held=True)
            raise
        # The ACK is sent before the penalty: give send() a moment to return.
        deadline = time.monotonic() + HELD_AFTER
        while self._busy(sender) and time.monotonic() < deadline:
            time.sleep(0.005)
        return SetAck(field, value, acked=True, held=self._busy(sender))

    def expect_hold(self, seconds: float) -> None:
        """How long the kernel will hold a sender now (backlog_wait_time in
        seconds while the backlog is over its limit, else 0): paces polls."""
        self._pool.expected_hold = seconds

    def held(self) -> tuple[int, float]:
        """(how many of auditop's senders the kernel is holding, the longest s).
        A sender that died is not held: it is dropped here."""
        count, longest = self._pool.held(HELD_AFTER)
        if count:  # only then is it worth a syscall to learn who is free again
            self._reports()
            self._reap()
            count, longest = self._pool.held(HELD_AFTER)
        return count, longest

    def _reap(self) -> None:
        """Senders that died with a request: their callers ask again."""
        for seq in self._pool.reap(HELD_AFTER):
            with self._lock:
                waiter = self._waiters.get(seq)
            if waiter is not None and not waiter.finished:
                waiter.error = _SenderLost(seq)
                waiter.set()

    def _busy(self, sender: object) -> bool:
        self._reports()
        return self._pool.is_busy(sender)

    def close_idle(self) -> None:
        """End the senders with nothing to send (a ticker keeps the pace now);
        the next request starts one again."""
        self._reports()
        close_idle = getattr(self._pool, "close_idle", None)
        if close_idle is not None:
            close_idle()

    def close(self) -> None:
        """Never waits for a held sender; wakes every caller still waiting."""
        if self._closed.is_set():
            return
        self._closed.set()
        os.write(self._wake_write, b"x")  # a caller reading the socket stops
        self._pool.close()
        with self._lock:
            waiters, self._waiters = list(self._waiters.values()), {}
        for waiter in waiters:
            waiter.error = AuditError("the audit connection was closed")
            waiter.set()
        # The descriptors go with the last reader: never under a caller's poll().
        with self._reading, self._lock:
            for fd in (self._wake_read, self._wake_write):
                os.close(fd)
            if self._pool.report_fd is not None:
                os.close(self._pool.report_fd)
            self._socket.close()

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the caller's side --------------------------------------------------

    def _request(self, encode, want_type: int | None, *, reserved: bool
                 ) -> tuple[int, _Waiter, object]:
        seq = next(self._seq)
        waiter = _Waiter(want_type)
        with self._lock:
            self._waiters[seq] = waiter
        try:
            message = encode(seq)
            sender = self._idle_sender(message, seq, reserved)
        except LookupError as exc:
            self._forget(seq)
            count, seconds = exc.args
            raise SendersHeld(count, seconds) from None
        except OSError as exc:
            self._forget(seq)
            raise self._error(exc.errno or errno.EIO) from exc
        return seq, waiter, sender

    def _idle_sender(self, message: bytes, seq: int, reserved: bool) -> object:
        """Hand the request to a sender known to be idle; else read the
        reports (which senders are free again); else, none being held, wait
        a moment for the busy one's report (an answer taken at once comes
        just before it) rather than start a process of 10 MiB for nothing;
        else a new sender. LookupError when none may be used."""
        send = self._pool.send
        try:
            return send(message, seq, reserved=reserved, spawn=False)
        except LookupError:
            self._reports()
        if self._pool.report_fd is not None and self._pool.held()[0] == 0:
            try:
                return send(message, seq, reserved=reserved, spawn=False)
            except LookupError:
                select.select([self._pool.report_fd], [], [], REPORT_WAIT)
                self._reports()
        return send(message, seq, reserved=reserved)

    def _wait(self, seq: int, waiter: _Waiter, timeout: float | None,
              deadline: float | None = None,
              waiting: Callable[[], None] | None = None) -> wire.Message:
        """Wait for request `seq`'s answer, reading the socket while no one
        else does (handing others' answers to them). _SenderLost when its
        sender died and time is left to ask again."""
        if deadline is None:
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        late_at = time.monotonic() + REAP_EVERY  # while another caller reads
        try:
            while not waiter.finished:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self._closed.is_set():
                    break
                if self._reading.acquire(blocking=False):
                    try:
                        if not self._closed.is_set():
                            self._read_until(waiter, deadline, waiting)
                    finally:
                        self._reading.release()
                else:  # another caller reads; it hands us ours, or we take over
                    waiter.wait(min(left, 0.05))
                    if waiting is not None and time.monotonic() >= late_at:
                        late_at += REAP_EVERY
                        waiting()
        finally:
            self._forget(seq)
        if not waiter.finished and self._closed.is_set():
            raise AuditError("the audit connection was closed")
        if not waiter.finished:
            count, held_for = self.held()
            why = f"the kernel is holding auditop's sender for {held_for:.1f} s" \
                if count else ""
            raise NoAnswer(self.timeout if timeout is None else timeout, why)
        if isinstance(waiter.error, _SenderLost):
            if time.monotonic() < deadline:
                raise waiter.error
            raise NoAnswer(self.timeout if timeout is None else timeout,
                           "auditop's sender process died with the request")
        if waiter.error is not None:
            raise waiter.error
        return waiter.message

    def _read_until(self, waiter: _Waiter, deadline: float,
                    waiting: Callable[[], None] | None = None) -> None:
        # A paced poll's answer has been waiting since the last wake: take
        # it (and the sender's report) without a poll() first.
        self._reports()
        self._receive()
        while not waiter.finished:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            events = dict(self._poll.poll(min(left, REAP_EVERY) * 1000))
            if not events:
                self._reap()  # a request this slow may have lost its sender
                if waiting is not None:
                    waiting()
                continue
            if self._wake_read in events:
                return  # closed
            if self._pool.report_fd is not None and self._pool.report_fd in events:
                self._reports()
            if self._socket.fileno() in events:
                self._receive()

    def _forget(self, seq: int) -> None:
        with self._lock:
            self._waiters.pop(seq, None)

    @staticmethod
    def _error(code: int) -> AuditError:
        return from_errno(code, initial_pid_namespace=in_initial_pid_namespace()
                          if code in (errno.EPERM, errno.EACCES) else True)

    # -- reading (by the one caller holding _reading) ---------------------------

    def _receive(self) -> None:
        try:
            data = self._socket.recv(RECV_BUFFER, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        try:
            messages = wire.split(data)
        except AuditError:
            return  # a datagram we cannot cut cannot be matched to anyone either
        for message in messages:
            with self._lock:
                waiter = self._waiters.get(message.seq)
            if waiter is None:
                continue  # the answer to a request whose caller gave up
            try:
                match = wire.answer([message], message.seq, waiter.want_type)
            except AuditError as exc:
                code = getattr(exc, "errno", None)
                waiter.error = exc if code is None else self._error(code)
                waiter.set()
                continue
            if match is not None:
                waiter.message = match
                waiter.set()

    def _reports(self) -> None:
        """Take the senders' reports (send() returned, or failed with errno)."""
        if self._pool.report_fd is None:
            return
        with self._lock:  # close() closes the pipe under it: never a reused fd
            if self._closed.is_set():
                return
            try:
                data = os.read(self._pool.report_fd, REPORT.size * 64)
            except BlockingIOError:
                return
        for offset in range(0, len(data) - REPORT.size + 1, REPORT.size):
            ident, seq, code = REPORT.unpack_from(data, offset)
            self._pool.sent(ident)
            if code:
                with self._lock:
                    waiter = self._waiters.get(seq)
                if waiter is not None:
                    waiter.error = self._error(code)
                    waiter.set()


def _open_netlink() -> socket.socket:
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, wire.NETLINK_AUDIT)
    except OSError as exc:
        raise from_errno(exc.errno or errno.EIO) from exc
    try:
        sock.bind((0, 0))
    except OSError as exc:
        sock.close()
        raise from_errno(exc.errno or errno.EIO) from exc
    return sock
