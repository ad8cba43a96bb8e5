"""The audit multicast listener: a read-only copy of every record kauditd
sends to auditd, counted into producers (issue 16, core/producers.py).

A NETLINK_AUDIT socket bound to group AUDIT_NLGRP_READLOG (1) receives a copy
of each record from kauditd (`kauditd_send_multicast_skb`, made before the
unicast to auditd). Binding needs CAP_AUDIT_READ; the kernel logs an
AUDIT_EVENT_LISTENER record on bind and unbind. The socket never sends
anything: it cannot change the kernel.

* Non-blocking, drained in batches by one reader thread: a batch is every
  datagram queued (at most BATCH), then counted, then `poll` waits again.
  The thread exists because one datagram is one record: at 100 000
  records/s a 0.1 s poll would need a 25 MiB queue (each copy is a 2 KiB
  skb), so the queue is emptied continuously, not once per poll.
* A large receive buffer: SO_RCVBUFFORCE as root (ignores rmem_max),
  SO_RCVBUF otherwise (capped by rmem_max).
* NETLINK_NO_ENOBUFS is set: without it one overrun marks the socket
  congested and every copy is dropped until the queue is empty, losing far
  more than the overrun. The records the listener misses are its socket's
  `Drops` (sk_drops, /proc/net/netlink by our inode), reported as `missed`
  beside the records it counted. An ENOBUFS error (kernels that refuse the
  option) is counted too. A listener that misses records loses nothing
  of auditd's: the copy is best-effort, the unicast to auditd goes on.

Pure stdlib (socket, select, threading): no pyroute2.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from auditop.core.producers import ProducerCounts, WindowProducers, choose_every

AF_NETLINK = 16
NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG = 1
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33

DEFAULT_RCVBUF = 32 * 1024 * 1024  # the kernel doubles it: ~28 000 copies of 2.3 KiB
BATCH = 4096  # datagrams per batch, then the batch is counted
RECV_SIZE = 16384  # a record is at most MAX_AUDIT_MESSAGE_LENGTH (8970) + header
POLL_MS = 100
# After a batch that emptied the queue, wait this long before the next one:
# the reader wakes 20 times a second under load, not once per record or so
# (at 100 000 records/s 50 ms is ~5 000 copies, ~12 MiB of the buffer).
PACE_S = 0.05
# Parse at most this many SYSCALL records a second (~1.5 us each: ~3% of a
# core), count every record's type from its header whatever the rate.
PARSE_BUDGET = 20_000

_HEADER = struct.Struct("=IH")  # nlmsg_len, nlmsg_type


class ListenerUnavailable(Exception):
    """The listener cannot run here; the message is one line for the user."""


def open_listener(rcvbuf: int = DEFAULT_RCVBUF) -> tuple[socket.socket, int]:
    """A non-blocking socket in the audit multicast group and the receive
    buffer it really got (what the kernel reports, 2x the request)."""
    try:
        sock = socket.socket(AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_AUDIT)
    except OSError as exc:
        raise ListenerUnavailable(f"no audit netlink socket: {exc.strerror}") from None
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except OSError:  # EPERM without CAP_NET_ADMIN: capped by rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        try:
            sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        except OSError:
            pass  # an old kernel: overruns then show as ENOBUFS, counted
        try:
            sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))
        except OSError as exc:
            if exc.errno == errno.EPERM:
                raise ListenerUnavailable(
                    "the audit multicast listener needs CAP_AUDIT_READ: producers "
                    "come from auditd's log instead") from None
            raise ListenerUnavailable(f"cannot join the audit multicast group: "
                                      f"{exc.strerror}") from None
        sock.setblocking(False)
        return sock, sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except BaseException:
        sock.close()
        raise


def socket_drops(inode: int, path: str = "/proc/net/netlink") -> int | None:
    """sk_drops of the netlink socket with this inode, or None if not found."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    header = [name.lower() for name in lines[0].split()] if lines else []
    if "drops" not in header or "inode" not in header:
        return None
    drops_at, inode_at = header.index("drops"), header.index("inode")
    wanted = str(inode)
    for line in lines[1:]:
        parts = line.split()
        if len(parts) > inode_at and parts[inode_at] == wanted:
            return int(parts[drops_at])
    return None


def split_records(data: bytes | memoryview, out: list[tuple[int, bytes]]) -> None:
    """Append (type, text) for each netlink message of one datagram; a
    message that lies about its length ends the datagram."""
    offset, size = 0, len(data)
    while size - offset >= 16:
        length, mtype = _HEADER.unpack_from(data, offset)
        if length < 16 or offset + length > size:
            return
        out.append((mtype, bytes(data[offset + 16:offset + length])))
        offset += (length + 3) & ~3


class MulticastListener:
    """The socket, read in non-blocking batches. `enobufs` counts ENOBUFS
    errors; `drops()` the records the socket missed since it was opened."""

    def __init__(self, rcvbuf: int = DEFAULT_RCVBUF) -> None:
        self.sock, self.rcvbuf = open_listener(rcvbuf)
        self.inode = os.fstat(self.sock.fileno()).st_ino
        self.enobufs = 0
        self._buffer = bytearray(RECV_SIZE)
        self._view = memoryview(self._buffer)
        self._drops0 = socket_drops(self.inode) or 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def read_batch(self, limit: int = BATCH) -> list[tuple[int, bytes]]:
        """Every record queued now, at most `limit` datagrams, never waiting."""
        out: list[tuple[int, bytes]] = []
        recv_into, view = self.sock.recv_into, self._view
        for _ in range(limit):
            try:
                n = recv_into(self._buffer)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.enobufs += 1
                    continue
                raise
            split_records(view[:n], out)
        return out

    def drops(self) -> int:
        now = socket_drops(self.inode)
        return max(0, now - self._drops0) if now is not None else 0

    def close(self) -> None:
        self._view.release()
        self.sock.close()


class ProducerCounter:
    """The listener in a reader thread, counting into one window at a time.

        counter = ProducerCounter.start()      # or .start(on_unavailable=print)
        ...
        counter.run(duty.wanted(now, losing))  # optional: open or close the socket
        producers = counter.drain(rules=key_rules)   # once per window: WindowProducers
        counter.close()

    When the listener cannot run, `unavailable` says why (one line) and
    `drain()` returns None; the caller says so once and uses the log.
    `run(False)` closes the socket (the kernel then makes no copies at all)
    and `run(True)` opens it again; a window's `listened` says the share of
    it the socket was open, and its rates are per second listened.
    `every` (parse 1 in N SYSCALL records) is chosen for each window from
    the previous window's rate so that at most `parse_budget` are parsed a
    second. `cpu_seconds` is the reader thread's own CPU time so far.
    """

    def __init__(self, *, rcvbuf: int = DEFAULT_RCVBUF, parse_budget: float = PARSE_BUDGET,
                 pace: float = PACE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.parse_budget = parse_budget
        self.pace = pace
        self.rcvbuf = rcvbuf
        self.unavailable: str | None = None
        self.listener: MulticastListener | None = None  # owned by the thread once started
        self.cpu_seconds = 0.0
        self.total_records = 0
        self.error: BaseException | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = ProducerCounts()
        self._since = clock()  # the window's start
        self._listened = 0.0  # seconds the socket was open in this window, closed spans
        self._open_since: float | None = None  # while open: since when (in this window)
        self._missed = 0  # in this window
        self._missed_seen = 0  # the open socket's drops + ENOBUFS already counted
        self._missed_read_at = 0.0
        self._wanted = threading.Event()
        self._wanted.set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self.listener = MulticastListener(rcvbuf)
            self._open_since = clock()
        except ListenerUnavailable as exc:
            self.unavailable = str(exc)

    @classmethod
    def start(cls, *, on_unavailable: Callable[[str], object] | None = None,
              **options) -> ProducerCounter:
        counter = cls(**options)
        if counter.unavailable is not None:
            if on_unavailable is not None:
                on_unavailable(counter.unavailable)
            return counter
        counter._thread = threading.Thread(target=counter._run, name="auditop-multicast",
                                           daemon=True)
        counter._thread.start()
        return counter

    def run(self, wanted: bool) -> None:
        """Listen (True) or close the socket (False); the thread does it
        within POLL_MS (or `pace`)."""
        if wanted:
            self._wanted.set()
        else:
            self._wanted.clear()

    @property
    def listening(self) -> bool:
        return self._open_since is not None

    def _run(self) -> None:
        cpu0 = time.thread_time()
        poller: select.poll | None = None
        try:
            while not self._stop.is_set():
                if not self._wanted.is_set():
                    if self.listener is not None:
                        self._close_listener()
                        poller = None
                    self._stop.wait(POLL_MS / 1000)
                    continue
                if self.listener is None:
                    listener = MulticastListener(self.rcvbuf)
                    with self._lock:
                        self.listener, self._open_since = listener, self._clock()
                    self._missed_seen = 0
                if poller is None:
                    poller = select.poll()
                    poller.register(self.listener.fileno(), select.POLLIN)
                if poller.poll(POLL_MS):
                    batch = self.listener.read_batch()
                    if batch:
                        with self._lock:
                            self._counts.add_many(batch)
                            self.total_records += len(batch)
                else:
                    batch = []
                self._account_missed()
                self.cpu_seconds = time.thread_time() - cpu0
                if self.pace and batch and len(batch) < BATCH:
                    # Let records gather in the buffer rather than wake on each.
                    self._stop.wait(self.pace)
        except BaseException as exc:  # noqa: BLE001 - kept and raised by drain()
            self.error = exc
        finally:
            self.cpu_seconds = time.thread_time() - cpu0
            if self.listener is not None:
                self._close_listener()

    def _account_missed(self, force: bool = False) -> None:
        """Add the socket's new drops to the window, every 0.5 s at most
        (a read of /proc/net/netlink)."""
        now = self._clock()
        if not force and now - self._missed_read_at < 0.5:
            return
        self._missed_read_at = now
        total = self.listener.drops() + self.listener.enobufs
        if total > self._missed_seen:
            with self._lock:
                self._missed += total - self._missed_seen
            self._missed_seen = total

    def _close_listener(self) -> None:
        self._account_missed(force=True)
        with self._lock:
            listener, self.listener = self.listener, None
            if self._open_since is not None:
                self._listened += self._clock() - self._open_since
                self._open_since = None
        listener.close()

    def drain(self, *, rules: Mapping[str, tuple[str, ...]] | None = None,
              syscall_name: Callable[[str, str], str] | None = None,
              user_name: Callable[[str], str] | None = None) -> WindowProducers | None:
        """The window since the last drain, and a new window begins."""
        if self.unavailable is not None:
            return None
        if self.error is not None:
            raise RuntimeError(f"the multicast listener stopped: {self.error!r}")
        now = self._clock()
        with self._lock:
            counts, self._counts = self._counts, self._counts.carry()
            wall = max(now - self._since, 1e-9)
            listened = self._listened
            if self._open_since is not None:
                listened += now - self._open_since
                self._open_since = now
            self._since, self._listened = now, 0.0
            missed, self._missed = self._missed, 0
            seconds = max(listened, 1e-9)
            if counts.records:
                self._counts.every = choose_every(counts.syscalls / seconds, self.parse_budget)
        window = counts.window(seconds, source="kernel", missed=missed, rules=rules,
                               syscall_name=syscall_name or syscall_names().name,
                               user_name=user_name)
        return replace(window, listened=min(1.0, listened / wall))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * POLL_MS / 1000 + 1)
        elif self.listener is not None:
            self._close_listener()

    def __enter__(self) -> ProducerCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- syscall names ---------------------------------------------------------------

# AUDIT_ARCH_* of the SYSCALL record's arch= field (include/uapi/linux/audit.h).
ARCHES = {"c000003e": "x86_64", "40000003": "i386", "c00000b7": "aarch64",
          "40000028": "arm", "c0000015": "ppc64le", "80000016": "s390x",
          "c00000f3": "riscv64"}


class SyscallNames:
    """Names from `ausyscall <arch> --dump` (auditd's own table), read once
    per arch; a number stays a number where ausyscall is missing."""

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, str]] = {}

    def name(self, arch: str, number: str) -> str:
        table = self._tables.get(arch)
        if table is None:
            table = self._tables[arch] = _ausyscall(ARCHES.get(arch))
        return table.get(number, number)


def _ausyscall(arch: str | None) -> dict[str, str]:
    tool = shutil.which("ausyscall")
    if arch is None or tool is None:
        return {}
    try:
        out = subprocess.run([tool, arch, "--dump"], capture_output=True, text=True,
                             timeout=5, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    table = {}
    for line in out.splitlines():
        number, _, name = line.partition("\t")
        if number.isdigit() and name:
            table[number] = name.strip()
    return table


_names: SyscallNames | None = None


def syscall_names() -> SyscallNames:
    global _names
    if _names is None:
        _names = SyscallNames()
    return _names


def main(argv: list[str] | None = None) -> int:
    """`python -m auditop.probes.multicast [SECONDS]`: print the producers of
    each second, for a look by hand (read-only)."""
    seconds = float((argv or sys.argv[1:] or ["5"])[0])
    counter = ProducerCounter.start(on_unavailable=lambda why: print(why, file=sys.stderr))
    if counter.unavailable:
        return 1
    with counter:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(1.0)
            window = counter.drain()
            top = window.top("by_key"), window.top("by_comm")
            print(f"{window.records} records ({window.per_s:.0f}/s, sampled "
                  f"{window.sampled:.2f}, missed {window.missed}); key "
                  f"{top[0].name if top[0] else '-'}, comm {top[1].name if top[1] else '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
