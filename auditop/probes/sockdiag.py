"""Every NETLINK_AUDIT socket's real receive buffer, queue and drops, from
sock_diag (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY for AF_NETLINK).

/proc/net/netlink shows Rmem and Drops but not the buffer size: a socket's
`sk_rcvbuf` is fixed when it is made, so a changed `net.core.rmem_default`
does not reach a running auditd, and only sock_diag tells what it really got
(what `ss -f netlink -m` prints as `rb`).

The request and reply are pyroute2 message classes; decoding is done here
with struct compiled from those classes' field lists, bounds-checked, so
`decode_dump` is pure (bytes in, values out) and never trusts a length.
The socket is a plain AF_NETLINK socket, opened per query. The live source
asks with every system read (2 Hz, not per 10 Hz sample); one dump of the
audit sockets costs about 50 us (measured: 52 us wall, 51 us CPU, the same
as reading /proc/net/netlink, which it replaces).
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
import sys
import time
from dataclasses import dataclass
from collections.abc import Iterable
from typing import NamedTuple

from auditop.probes.frames import NLMSG_HDRLEN, messages

from auditop.probes.netlink_classes import NLM_F_DUMP, NLM_F_REQUEST, nlmsg

AF_NETLINK = 16
NETLINK_SOCK_DIAG = 4
NETLINK_AUDIT = 9
SOCK_DIAG_BY_FAMILY = 20
NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3

NDIAG_SHOW_MEMINFO = 0x1
NDIAG_SHOW_GROUPS = 0x2

# Attribute types: an enum starting at 0 in include/uapi/linux/netlink_diag.h
# (measured: the kernel sends MEMINFO as type 0). Not 1 and 2.
NETLINK_DIAG_MEMINFO = 0
NETLINK_DIAG_GROUPS = 1

# Indexes into the sk_meminfo u32 array (include/uapi/linux/sock_diag.h).
SK_MEMINFO_RMEM_ALLOC = 0
SK_MEMINFO_RCVBUF = 1
SK_MEMINFO_WMEM_ALLOC = 2
SK_MEMINFO_SNDBUF = 3
SK_MEMINFO_FWD_ALLOC = 4
SK_MEMINFO_WMEM_QUEUED = 5
SK_MEMINFO_OPTMEM = 6
SK_MEMINFO_BACKLOG = 7
SK_MEMINFO_DROPS = 8  # absent from kernels older than 4.x's 9-value array

RECV_BUFFER = 65536
DEFAULT_TIMEOUT = 1.0
MAX_DATAGRAMS = 1024  # a dump of every audit socket is a handful; stop a runaway

_NLA_HEADER = struct.Struct("=HH")  # nla_len, nla_type
_NLA_TYPE_MASK = 0x3FFF  # strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
_ERRNO = struct.Struct("=i")
_U32 = struct.Struct("=I")


class netlink_diag_req(nlmsg):
    """struct netlink_diag_req; ndiag_cookie[2] as one u64 (same 8 bytes)."""

    __slots__ = ()
    fields = (
        ("sdiag_family", "B"),
        ("sdiag_protocol", "B"),
        ("pad", "H"),
        ("ndiag_ino", "I"),
        ("ndiag_show", "I"),
        ("ndiag_cookie", "Q"),
    )


class netlink_diag_msg(nlmsg):
    """struct netlink_diag_msg, then attributes (types index nla_map)."""

    __slots__ = ()
    fields = (
        ("ndiag_family", "B"),
        ("ndiag_type", "B"),
        ("ndiag_protocol", "B"),
        ("ndiag_state", "B"),
        ("ndiag_portid", "I"),
        ("ndiag_dst_portid", "I"),
        ("ndiag_dst_group", "I"),
        ("ndiag_ino", "I"),
        ("ndiag_cookie", "Q"),
    )
    # Raw bytes for pyroute2: its array(uint32) decoder does not resolve the
    # element type here, so the arrays are unpacked by this module instead.
    nla_map = (
        ("NETLINK_DIAG_MEMINFO", "cdata"),
        ("NETLINK_DIAG_GROUPS", "cdata"),
    )


_DIAG_MSG = struct.Struct("=" + "".join(fmt for _, fmt in netlink_diag_msg.fields))


class SockDiagError(OSError):
    """Base class: str(error) is one line fit to show a user."""


class SockDiagUnavailable(SockDiagError):
    """This kernel (or sandbox) offers no netlink sock_diag."""


class SockDiagRefused(SockDiagError):
    """The kernel answered the dump with an error."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"sock_diag refused the netlink dump: "
                         f"{errno.errorcode.get(code, code)} ({os.strerror(code)})")


class SockDiagProtocolError(SockDiagError):
    """A reply this module cannot decode (truncated, lying about a length)."""


@dataclass(frozen=True, slots=True)
class NetlinkSocketMem:
    """One netlink socket as sock_diag sees it."""

    portid: int  # u32 as /proc/net/netlink prints it; 0 = the kernel's socket
    inode: int
    groups: int  # bit n = multicast group n+1 (bit 0 = AUDIT_NLGRP_READLOG)
    rmem_alloc: int  # bytes (truesize) queued for reading: ss `r`
    rcvbuf: int  # sk_rcvbuf, the real buffer size: ss `rb`
    drops: int | None  # sk_drops (netlink_overrun); None on kernels without it
    protocol: int = NETLINK_AUDIT

    @property
    def is_kernel(self) -> bool:
        return self.portid == 0


class Dump(NamedTuple):
    sockets: tuple[NetlinkSocketMem, ...]
    done: bool  # NLMSG_DONE was in this datagram: the dump is complete


def encode_request(seq: int, protocol: int = NETLINK_AUDIT) -> bytes:
    """A dump request for every AF_NETLINK socket of `protocol`, with their
    memory and groups. Encoded once per protocol, then only the sequence
    number is patched (pyroute2's encode was 40% of a system read)."""
    template = _TEMPLATES.get(protocol)
    if template is None:
        template = _TEMPLATES[protocol] = _encode_request(0, protocol)
    request = bytearray(template)
    struct.pack_into("=I", request, 8, seq)
    return bytes(request)


_TEMPLATES: dict[int, bytes] = {}


def _encode_request(seq: int, protocol: int) -> bytes:
    msg = netlink_diag_req()
    msg["header"].update(type=SOCK_DIAG_BY_FAMILY, flags=NLM_F_REQUEST | NLM_F_DUMP,
                         sequence_number=seq)
    msg["sdiag_family"] = AF_NETLINK
    msg["sdiag_protocol"] = protocol
    msg["pad"] = 0
    msg["ndiag_ino"] = 0
    msg["ndiag_show"] = NDIAG_SHOW_MEMINFO | NDIAG_SHOW_GROUPS
    msg["ndiag_cookie"] = 0
    msg.encode()
    return bytes(msg.data)


def decode_dump(data: bytes, seq: int | None = None) -> Dump:
    """The sockets in one datagram of a sock_diag dump reply.

    Messages of another sequence number (a stale dump) and unknown types are
    skipped. Raises SockDiagRefused for an error reply and
    SockDiagProtocolError for anything malformed, nothing else.
    """
    sockets = []
    for mtype, _, mseq, message in messages(data, SockDiagProtocolError):
        payload = message[NLMSG_HDRLEN:]
        if seq is not None and mseq != seq:
            continue
        if mtype == NLMSG_DONE:
            _check_done(payload)
            return Dump(tuple(sockets), True)
        if mtype == NLMSG_ERROR:
            _check_error(payload)
        elif mtype == SOCK_DIAG_BY_FAMILY:
            sockets.append(decode_socket(payload))
    return Dump(tuple(sockets), False)


def _check_done(payload: bytes) -> None:
    # Since 4.x a dump's NLMSG_DONE carries the dump's own result (an int).
    if len(payload) >= _ERRNO.size:
        code = _ERRNO.unpack_from(payload)[0]
        if code < 0:
            raise SockDiagRefused(-code)


def _check_error(payload: bytes) -> None:
    if len(payload) < _ERRNO.size:
        raise SockDiagProtocolError("truncated netlink error message")
    code = _ERRNO.unpack_from(payload)[0]
    if code < 0:
        raise SockDiagRefused(-code)


def decode_socket(payload: bytes) -> NetlinkSocketMem:
    """One netlink_diag_msg payload (after the netlink header)."""
    if len(payload) < _DIAG_MSG.size:
        raise SockDiagProtocolError(
            f"netlink_diag_msg of {len(payload)} bytes is truncated "
            f"(expected at least {_DIAG_MSG.size})")
    (_, _, protocol, _, portid, _, _, inode, _) = _DIAG_MSG.unpack_from(payload)
    attrs = _attributes(payload, _DIAG_MSG.size)
    meminfo = attrs.get(NETLINK_DIAG_MEMINFO)
    if meminfo is None:
        raise SockDiagProtocolError(
            f"sock_diag sent no memory info for netlink socket inode {inode}")
    mem = _u32_array(meminfo)
    if len(mem) <= SK_MEMINFO_RCVBUF:
        raise SockDiagProtocolError(
            f"sock_diag memory info of {len(meminfo)} bytes is truncated")
    return NetlinkSocketMem(
        portid=portid,
        inode=inode,
        # No attribute: the socket never joined a group (no bitmap allocated).
        groups=_bitmap(attrs.get(NETLINK_DIAG_GROUPS, b"")),
        rmem_alloc=mem[SK_MEMINFO_RMEM_ALLOC],
        rcvbuf=mem[SK_MEMINFO_RCVBUF],
        drops=mem[SK_MEMINFO_DROPS] if len(mem) > SK_MEMINFO_DROPS else None,
        protocol=protocol,
    )


def _attributes(payload: bytes, offset: int) -> dict[int, bytes]:
    attrs = {}
    while len(payload) - offset >= _NLA_HEADER.size:
        length, kind = _NLA_HEADER.unpack_from(payload, offset)
        if length < _NLA_HEADER.size or offset + length > len(payload):
            raise SockDiagProtocolError(
                f"netlink attribute length {length} does not fit the "
                f"{len(payload) - offset} bytes left")
        attrs[kind & _NLA_TYPE_MASK] = payload[offset + _NLA_HEADER.size:offset + length]
        offset += (length + 3) & ~3  # NLA_ALIGN
    return attrs


def _u32_array(value: bytes) -> tuple[int, ...]:
    count = len(value) // _U32.size
    return struct.unpack_from(f"={count}I", value)


def _bitmap(value: bytes) -> int:
    """The kernel's groups bitmap (an array of unsigned long, host order) as
    one int, bit n = group n+1."""
    word = 8 if len(value) % 8 == 0 else 4
    groups = 0
    for i in range(len(value) // word):
        chunk = value[i * word:(i + 1) * word]
        groups |= int.from_bytes(chunk, sys.byteorder) << (8 * word * i)
    return groups


# ------------------------------------------------------------------ socket

_seq = itertools.count(1)


def audit_sockets(timeout: float = DEFAULT_TIMEOUT) -> tuple[NetlinkSocketMem, ...]:
    """Every NETLINK_AUDIT socket now (the kernel's, auditd's, multicast
    readers, auditop's own). Raises SockDiagUnavailable where the kernel has
    no netlink sock_diag, SockDiagError for any other failure."""
    return netlink_sockets(NETLINK_AUDIT, timeout)


def netlink_sockets(protocol: int,
                    timeout: float = DEFAULT_TIMEOUT) -> tuple[NetlinkSocketMem, ...]:
    """Every AF_NETLINK socket of `protocol` now."""
    sock = _open_diag_socket()
    with sock:
        sock.settimeout(timeout)
        seq = next(_seq)
        try:
            sock.send(encode_request(seq, protocol))
        except OSError as exc:
            raise SockDiagUnavailable(f"cannot send a sock_diag request: "
                                      f"{exc.strerror or exc}") from exc
        return _unique(s for s in _receive_dump(sock, seq, timeout) if s.protocol == protocol)


def _unique(sockets: Iterable[NetlinkSocketMem]) -> tuple[NetlinkSocketMem, ...]:
    """First report of each inode: a socket bound to multicast groups comes
    twice in the dump (measured on 6.18, and `ss` lists it twice too)."""
    seen: dict[int, NetlinkSocketMem] = {}
    for s in sockets:
        seen.setdefault(s.inode, s)
    return tuple(seen.values())


def _open_diag_socket() -> socket.socket:
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                             NETLINK_SOCK_DIAG)
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.EAFNOSUPPORT):
            raise SockDiagUnavailable(
                "this kernel has no netlink sock_diag (NETLINK_SOCK_DIAG unsupported)") from exc
        raise SockDiagUnavailable(
            f"cannot open a sock_diag socket: {exc.strerror or exc}") from exc


def _receive_dump(sock: socket.socket, seq: int, timeout: float) -> list[NetlinkSocketMem]:
    deadline = time.monotonic() + timeout
    sockets: list[NetlinkSocketMem] = []
    for _ in range(MAX_DATAGRAMS):
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            data = sock.recv(RECV_BUFFER)
        except TimeoutError as exc:
            raise SockDiagError(f"sock_diag did not finish its dump in {timeout:.1f} s") from exc
        except OSError as exc:
            raise SockDiagError(f"sock_diag dump failed: {exc.strerror or exc}") from exc
        try:
            dump = decode_dump(data, seq)
        except SockDiagRefused as exc:
            if exc.code == errno.ENOENT:  # no handler registered for AF_NETLINK
                raise SockDiagUnavailable(
                    "this kernel has no netlink sock_diag handler "
                    "(CONFIG_NETLINK_DIAG off or netlink_diag not loaded)") from exc
            raise
        sockets.extend(dump.sockets)
        if dump.done:
            return sockets
    raise SockDiagProtocolError(f"sock_diag dump did not end after {MAX_DATAGRAMS} datagrams")


class AuditSocketReader:
    """audit_sockets() for a poll loop: once the kernel is found to have no
    netlink sock_diag it is not asked again (the same error is raised at
    once); any other failure is raised and the next call tries again."""

    def __init__(self, dump=audit_sockets) -> None:
        self._dump = dump
        self._unavailable: SockDiagUnavailable | None = None

    def __call__(self) -> tuple[NetlinkSocketMem, ...]:
        if self._unavailable is not None:
            raise self._unavailable
        try:
            return self._dump()
        except SockDiagUnavailable as exc:
            self._unavailable = exc
            raise
