"""A scripted stand-in for the kernel's NETLINK_AUDIT socket and for
auditop's sender processes: it answers AUDIT_GET and AUDIT_SET with the bytes
the kernel would send, on a real datagram socket the client reads, and can be
told to hold the sender after answering (as 5.17+ does while the backlog is
over its limit), to drop a reply, or to refuse with an errno."""

from __future__ import annotations

import errno
import socket
import struct
import threading
import time

from auditop.core.model import STATUS_FIELDS
from auditop.kernel import wire

HEADER = struct.Struct("=IHHII")


class FakeKernel:
    def __init__(self, **status: int) -> None:
        self.status = {name: 0 for name in STATUS_FIELDS}
        self.status.update(enabled=1, failure=1, backlog_limit=64,
                           backlog_wait_time=15000, feature_bitmap=127)
        self.status.update(status)
        self.refuse_errno: int | None = None  # e.g. errno.EPERM for every request
        self.drop_next_reply = False
        self.hold = threading.Event()  # set(): senders sleep after the kernel answered
        self.wake = threading.Event()
        self.sets: list[tuple[str, int]] = []  # what reached the "kernel"
        self.requests = 0
        self.client_sock, self._kernel_end = socket.socketpair(socket.AF_UNIX,
                                                               socket.SOCK_DGRAM)

    def handle(self, data: bytes) -> None:
        """What the kernel does in the sender's sendmsg(): process, reply,
        then penalise the sender while `hold` is set."""
        (message,) = wire.split(data)
        self.requests += 1
        replies = self._handle(message)
        if self.drop_next_reply:
            self.drop_next_reply = False
        else:
            self._kernel_end.send(b"".join(replies))
        if self.hold.is_set():
            self.wake.wait(10)

    def close(self) -> None:
        self.wake.set()
        self._kernel_end.close()

    def _handle(self, message: wire.Message) -> list[bytes]:
        if self.refuse_errno is not None:
            return [self._ack(message, -self.refuse_errno)]
        if message.type == wire.AUDIT_GET:
            values = [self.status[name] for name in STATUS_FIELDS]
            payload = struct.pack("=11I", 0, *values)
            return [HEADER.pack(16 + len(payload), wire.AUDIT_GET, 0, message.seq, 0)
                    + payload]
        if message.type == wire.AUDIT_SET:
            mask, *values = struct.unpack_from("=11I", message.data, 16)
            if self.status["enabled"] == 2:
                return [self._ack(message, -errno.EPERM)]
            for name, bit in wire.SET_MASK.items():
                if mask & bit:
                    value = values[STATUS_FIELDS.index(name)]
                    if name == "backlog_wait_time" and value > 150000:
                        return [self._ack(message, -errno.EINVAL)]
                    self.status[name] = value
                    self.sets.append((name, value))
            return [self._ack(message, 0)]
        return [self._ack(message, -errno.EINVAL)]

    @staticmethod
    def _ack(message: wire.Message, code: int) -> bytes:
        return HEADER.pack(36, wire.NLMSG_ERROR, 0, message.seq, 0) + \
            struct.pack("=i", code) + message.data[:16]


class _Sender:
    busy_since: float | None = None


class ThreadSenders:
    """The client's Pool, with threads in place of child processes: a held
    sender is a thread asleep in FakeKernel.handle."""

    report_fd = None
    expected_hold = 0.0  # no pacing here: the client's own tests hold by hand

    def __init__(self, kernel: FakeKernel, limit: int = 4) -> None:
        self.kernel, self.limit = kernel, limit
        self.senders: list[_Sender] = []
        self._lock = threading.Lock()

    def send(self, message: bytes, seq: int, *, reserved: bool = False,
             spawn: bool = True) -> _Sender:
        with self._lock:
            idle = [s for s in self.senders if s.busy_since is None]
            if idle:
                sender = idle[0]
            elif len(self.senders) >= self.limit + (1 if reserved else 0):
                now = time.monotonic()
                raise LookupError(len(self.senders),
                                  max(now - s.busy_since for s in self.senders))
            else:
                sender = _Sender()
                self.senders.append(sender)
            sender.busy_since = time.monotonic()

        def run() -> None:
            self.kernel.handle(message)
            sender.busy_since = None
        threading.Thread(target=run, daemon=True).start()
        return sender

    def sent(self, ident: int) -> None:
        raise AssertionError("threads report by themselves")

    def held(self, after: float = 0.05) -> tuple[int, float]:
        now = time.monotonic()
        times = [now - s.busy_since for s in self.senders
                 if s.busy_since is not None and now - s.busy_since > after]
        return len(times), max(times, default=0.0)

    def reap(self, held_after: float = 0.1) -> list[int]:
        return []  # scripted senders never die

    def is_busy(self, sender: _Sender) -> bool:
        return sender.busy_since is not None

    def close(self) -> None:
        self.kernel.wake.set()
