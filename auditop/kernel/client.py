"""The NETLINK_AUDIT control socket: AUDIT_GET and AUDIT_SET with timeouts.

Since kernel 5.17 the kernel puts any process that sends it an audit request
to sleep, uninterruptibly and inside sendmsg(), for up to backlog_wait_time
while the backlog is over its limit: a socket timeout cannot help. So a
`guarded` client runs every request on its own I/O thread and the caller
waits for the answer at most `timeout` seconds; a request the kernel is still
sitting on is never duplicated: the next call first waits for it to come back.

An unguarded client does the I/O in the caller's thread (a thread hop costs
~30 us, a third of the round trip). Only a thread that exists to poll, and
whose consumer watches how long a poll takes, should use one: the Sampler.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import queue
import socket
import threading
import time
from typing import Callable, TypeVar

from pyroute2.netlink.nlsocket import NetlinkSocket

from auditop.core.model import AuditStatus
from auditop.kernel import wire
from auditop.kernel.errors import (AuditError, AuditLocked, InvalidValue, NoAnswer,
                                   from_errno)
from auditop.kernel.results import SetResult

T = TypeVar("T")
RECV_BUFFER = 8192
DEFAULT_TIMEOUT = 2.0


class AuditClient:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, guarded: bool = True,
                 sock: socket.socket | None = None) -> None:
        """`sock` replaces the kernel socket (tests script the kernel's bytes)."""
        self.timeout = timeout
        self._netlink = None
        self._private_loop = None  # pyroute2's loop, when made on a helper thread
        if sock is None:
            try:
                self._netlink, self._private_loop = _outside_event_loop(_open_netlink)
            except OSError as exc:
                raise from_errno(exc.errno or errno.EIO) from exc
            # pyroute2 made and bound the socket; requests go straight through
            # it, as its asyncio request path costs ~3x the round trip itself.
            sock = self._netlink.asyncore.socket
        self._socket = sock
        self._socket.settimeout(timeout)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._replies: queue.SimpleQueue = queue.SimpleQueue()
        self._in_flight_since: float | None = None
        self._guarded = guarded
        if guarded:
            threading.Thread(target=self._serve, name="auditop-netlink",
                             daemon=True).start()

    # -- public API -------------------------------------------------------

    def get_status(self, timeout: float | None = None) -> AuditStatus:
        return self._call(self._get_status, timeout)

    def set(self, field: str, value: int, timeout: float | None = None) -> SetResult:
        """Set one field, then read it back. Never sets failure, enabled or pid."""
        before = self.get_status(timeout)
        if before.enabled == 2:
            raise AuditLocked()
        try:
            self._call(lambda: self._set(field, value), timeout)
        except InvalidValue as exc:
            raise InvalidValue(f"{field} = {value}") from exc
        except AuditError as exc:
            # EPERM from a kernel that answered GET: the lock came in between.
            if self.get_status(timeout).enabled == 2:
                raise AuditLocked() from exc
            raise
        after = self.get_status(timeout)
        new = getattr(after, field)
        if new != value:
            raise AuditError(f"the kernel accepted {field} = {value} but reads "
                             f"back {new}")
        return SetResult(field, getattr(before, field), value, new)

    def close(self) -> None:
        if self._guarded:
            self._requests.put(None)
        if self._netlink is not None:
            self._netlink.close()
        if self._private_loop is not None and not self._private_loop.is_closed():
            self._private_loop.close()  # its thread is gone; pyroute2 cannot close it

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the caller's side --------------------------------------------------

    def _call(self, request: Callable[[], T], timeout: float | None) -> T:
        if not self._guarded:
            with self._lock:
                try:
                    return request()
                except OSError as exc:
                    raise from_errno(exc.errno or errno.EIO) from exc
        timeout = self.timeout if timeout is None else timeout
        start = time.monotonic()
        if not self._lock.acquire(timeout=timeout):
            raise NoAnswer(time.monotonic() - start)
        try:
            if self._in_flight_since is not None:
                # An earlier request is still asleep in the kernel: wait for it
                # (its answer is stale now) rather than queue another behind it.
                self._wait_reply(timeout)
            self._in_flight_since = time.monotonic()
            self._requests.put(request)
            ok, value = self._wait_reply(timeout - (time.monotonic() - start))
        finally:
            self._lock.release()
        if ok:
            return value
        raise value

    def _wait_reply(self, timeout: float) -> tuple[bool, object]:
        try:
            reply = self._replies.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            raise NoAnswer(time.monotonic() - self._in_flight_since) from None
        self._in_flight_since = None
        return reply

    # -- the I/O thread -----------------------------------------------------

    def _serve(self) -> None:
        while (request := self._requests.get()) is not None:
            try:
                self._replies.put((True, request()))
            except AuditError as exc:
                self._replies.put((False, exc))
            except OSError as exc:
                self._replies.put((False, from_errno(exc.errno or errno.EIO)))

    def _get_status(self) -> AuditStatus:
        seq = next(self._seq)
        self._socket.send(wire.encode_get(seq))
        return wire.decode_status(self._receive(seq, wire.AUDIT_GET))

    def _set(self, field: str, value: int) -> None:
        seq = next(self._seq)
        self._socket.send(wire.encode_set(seq, field, value))
        self._receive(seq, None)

    def _receive(self, seq: int, want_type: int | None) -> wire.Message:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                data = self._socket.recv(RECV_BUFFER)
            except TimeoutError:
                raise NoAnswer(self.timeout) from None
            if (message := wire.answer(wire.split(data), seq, want_type)) is not None:
                return message
            if time.monotonic() > deadline:
                raise NoAnswer(self.timeout)


def _open_netlink() -> NetlinkSocket:
    netlink = NetlinkSocket(family=wire.NETLINK_AUDIT)
    try:
        netlink.bind()
    except BaseException:
        netlink.close()
        raise
    return netlink


def _outside_event_loop(make: Callable[[], NetlinkSocket]
                        ) -> tuple[NetlinkSocket, asyncio.AbstractEventLoop | None]:
    """pyroute2's synchronous socket sets itself up with run_until_complete()
    on an event loop of its own, which fails ("This event loop is already
    running") in a thread whose asyncio loop is running: an async test, an
    app's handler. There, build it on a short-lived thread, and hand back the
    loop pyroute2 made on that thread so close() can close it."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return make(), None
    result: dict[str, object] = {}

    def build() -> None:
        try:
            netlink = make()
            result["loop"] = getattr(netlink.asyncore.local, "event_loop", None)
            result["value"] = netlink
        except BaseException as exc:  # re-raised in the caller's thread below
            result["error"] = exc

    thread = threading.Thread(target=build, name="auditop-netlink-open")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"], result["loop"]
