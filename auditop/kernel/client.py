"""The NETLINK_AUDIT control socket: AUDIT_GET and AUDIT_SET, with replies
received independently of sending.

Since kernel 5.17 the kernel puts the sender of any audit request to sleep,
after processing it, for up to backlog_wait_time while the backlog is over
its limit; the reply is queued *before* that sleep. So one reader thread
receives every reply and hands it to whoever waits for that sequence number,
and the sending is done by child processes (senders.py): a sender the kernel
holds does not hide the answer, does not block the caller, and does not keep
auditop alive when it quits. At most `max_senders` may be held at once; past
that a request fails at once with SendersHeld rather than queue behind them.

The socket is a plain AF_NETLINK socket: pyroute2's synchronous socket is one
per thread (0.9.7), which a reader thread and child senders cannot share.
The messages themselves are pyroute2 message classes (wire.py).
"""

from __future__ import annotations

import errno
import itertools
import os
import selectors
import socket
import threading
import time
from typing import Protocol

from auditop.core.changes import SetAck
from auditop.core.errors import (AuditError, InvalidValue, NoAnswer, SendersHeld,
                                 from_errno)
from auditop.core.model import AuditStatus
from auditop.kernel import wire
from auditop.kernel.senders import REPORT, SenderPool
from auditop.probes.namespaces import in_initial_pid_namespace

RECV_BUFFER = 65536
DEFAULT_TIMEOUT = 2.0
MAX_SENDERS = 6
# A sender still in send() this long after its request went out is held by the
# kernel (an answered request returns from send() in well under a millisecond).
HELD_AFTER = 0.05


class Pool(Protocol):
    """Who sends: SenderPool (child processes), or a test's stand-in."""

    report_fd: int | None

    expected_hold: float

    def send(self, message: bytes, seq: int, *, reserved: bool = False) -> object: ...

    def sent(self, ident: int) -> None: ...

    def held(self, after: float = HELD_AFTER) -> tuple[int, float]: ...

    def is_busy(self, sender: object) -> bool: ...

    def close(self) -> None: ...


class _Waiter:
    __slots__ = ("event", "want_type", "message", "error")

    def __init__(self, want_type: int | None) -> None:
        self.event = threading.Event()
        self.want_type = want_type
        self.message: wire.Message | None = None
        self.error: AuditError | None = None


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
        self._lock = threading.Lock()
        self._waiters: dict[int, _Waiter] = {}
        self._closed = threading.Event()
        self._wake_read, self._wake_write = os.pipe()  # close() wakes the reader
        self._reader = threading.Thread(target=self._read, name="auditop-netlink-reader",
                                        daemon=True)
        self._reader.start()

    # -- public API -------------------------------------------------------

    def get_status(self, timeout: float | None = None) -> AuditStatus:
        seq, waiter, _ = self._request(wire.encode_get, wire.AUDIT_GET, reserved=False)
        return wire.decode_status(self._wait(seq, waiter, timeout))

    def set(self, field: str, value: int, timeout: float | None = None) -> SetAck:
        """Send one AUDIT_SET and wait for its ACK. Reading the value back is
        the caller's (the next answered status). Never sets failure, enabled
        or pid. When the ACK does not come but the sender is held, the kernel
        has processed the request: it holds senders only afterwards."""
        seq, waiter, sender = self._request(
            lambda s: wire.encode_set(s, field, value), None, reserved=True)
        try:
            self._wait(seq, waiter, timeout)
        except InvalidValue as exc:
            raise InvalidValue(f"{field} = {value}") from exc
        except NoAnswer:
            if self._pool.is_busy(sender):
                return SetAck(field, value, acked=False, held=True)
            raise
        # The ACK is sent before the penalty: give send() a moment to return.
        deadline = time.monotonic() + HELD_AFTER
        while self._pool.is_busy(sender) and time.monotonic() < deadline:
            time.sleep(0.005)
        return SetAck(field, value, acked=True, held=self._pool.is_busy(sender))

    def expect_hold(self, seconds: float) -> None:
        """How long the kernel will hold a sender now (backlog_wait_time in
        seconds while the backlog is over its limit, else 0): paces polls."""
        self._pool.expected_hold = seconds

    def held(self) -> tuple[int, float]:
        """(how many of auditop's senders the kernel is holding, the longest s)."""
        return self._pool.held(HELD_AFTER)

    def close(self) -> None:
        """Never waits for a held sender; wakes every caller still waiting."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            os.write(self._wake_write, b"x")  # the reader closes the rest when it wakes
        except OSError:
            pass  # the reader has gone already (its socket failed)
        os.close(self._wake_write)
        self._pool.close()
        with self._lock:
            waiters, self._waiters = list(self._waiters.values()), {}
        for waiter in waiters:
            waiter.error = AuditError("the audit connection was closed")
            waiter.event.set()

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
            sender = self._pool.send(encode(seq), seq, reserved=reserved)
        except LookupError as exc:
            self._forget(seq)
            count, seconds = exc.args
            raise SendersHeld(count, seconds) from None
        except OSError as exc:
            self._forget(seq)
            raise self._error(exc.errno or errno.EIO) from exc
        return seq, waiter, sender

    def _wait(self, seq: int, waiter: _Waiter, timeout: float | None) -> wire.Message:
        timeout = self.timeout if timeout is None else timeout
        answered = waiter.event.wait(timeout)
        self._forget(seq)
        if not answered:
            count, held_for = self.held()
            why = f"the kernel is holding auditop's sender for {held_for:.1f} s" \
                if count else ""
            raise NoAnswer(timeout, why)
        if waiter.error is not None:
            raise waiter.error
        return waiter.message

    def _forget(self, seq: int) -> None:
        with self._lock:
            self._waiters.pop(seq, None)

    @staticmethod
    def _error(code: int) -> AuditError:
        return from_errno(code, initial_pid_namespace=in_initial_pid_namespace()
                          if code in (errno.EPERM, errno.EACCES) else True)

    # -- the reader thread ----------------------------------------------------

    def _read(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._socket, selectors.EVENT_READ, self._receive)
        selector.register(self._wake_read, selectors.EVENT_READ, None)
        if self._pool.report_fd is not None:
            selector.register(self._pool.report_fd, selectors.EVENT_READ, self._reports)
        try:
            while True:
                for key, _ in selector.select():
                    if key.data is None:
                        return
                    key.data()
        except OSError:
            if not self._closed.is_set():
                raise
        finally:
            selector.close()
            self._socket.close()
            os.close(self._wake_read)
            if self._pool.report_fd is not None:
                os.close(self._pool.report_fd)

    def _receive(self) -> None:
        data = self._socket.recv(RECV_BUFFER)
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
                waiter.event.set()
                continue
            if match is not None:
                waiter.message = match
                waiter.event.set()

    def _reports(self) -> None:
        data = os.read(self._pool.report_fd, REPORT.size * 64)
        for offset in range(0, len(data) - REPORT.size + 1, REPORT.size):
            ident, seq, code = REPORT.unpack_from(data, offset)
            self._pool.sent(ident)
            if code:
                with self._lock:
                    waiter = self._waiters.get(seq)
                if waiter is not None:
                    waiter.error = self._error(code)
                    waiter.event.set()


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
