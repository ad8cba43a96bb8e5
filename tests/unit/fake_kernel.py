"""A scripted stand-in for the kernel's NETLINK_AUDIT socket: it answers
AUDIT_GET and AUDIT_SET with the bytes the kernel would send, and can be
told to sleep in send() (as 5.17+ does while the backlog is full), to drop a
reply, to send the ACK before the data, or to refuse with an errno."""

from __future__ import annotations

import errno
import struct
import threading
from collections import deque

from auditop.core.model import STATUS_FIELDS
from auditop.kernel import wire

HEADER = struct.Struct("=IHHII")


class FakeKernelSocket:
    def __init__(self, **status: int) -> None:
        self.status = {name: 0 for name in STATUS_FIELDS}
        self.status.update(enabled=1, failure=1, backlog_limit=64,
                           backlog_wait_time=15000, feature_bitmap=127)
        self.status.update(status)
        self.refuse_errno: int | None = None  # e.g. errno.EPERM for every request
        self.ack_first = False
        self.drop_next_reply = False
        self.sleep_in_send = threading.Event()  # set(): send() blocks until wake
        self.wake = threading.Event()
        self.sets: list[tuple[str, int]] = []  # what reached the "kernel"
        self._inbox: deque[bytes] = deque()
        self._ready = threading.Condition()
        self.timeout: float | None = None

    # socket API used by AuditClient
    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def send(self, data: bytes) -> int:
        if self.sleep_in_send.is_set():
            self.wake.wait(10)
        (message,) = wire.split(data)
        replies = self._handle(message)
        if self.drop_next_reply:
            self.drop_next_reply = False
        else:
            with self._ready:
                self._inbox.append(b"".join(replies))
                self._ready.notify()
        return len(data)

    def recv(self, size: int) -> bytes:
        with self._ready:
            if not self._ready.wait_for(lambda: self._inbox, self.timeout):
                raise TimeoutError("timed out")
            return self._inbox.popleft()

    # the kernel's side
    def _handle(self, message: wire.Message) -> list[bytes]:
        if self.refuse_errno is not None:
            return [self._ack(message, -self.refuse_errno)]
        if message.type == wire.AUDIT_GET:
            values = [self.status[name] for name in STATUS_FIELDS]
            payload = struct.pack("=11I", 0, *values)
            reply = HEADER.pack(16 + len(payload), wire.AUDIT_GET, 0, message.seq, 0) + payload
            if message.flags & wire.NLM_F_ACK:
                ack = self._ack(message, 0)
                return [ack, reply] if self.ack_first else [reply, ack]
            return [reply]
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
