"""Netlink framing, shared by the audit wire format and sock_diag: cut one
datagram into messages, refusing any that lie about their length. Pure."""

from __future__ import annotations

import struct
from typing import Iterator, NamedTuple

NLMSG_HDRLEN = 16
HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, portid


class Message(NamedTuple):
    type: int
    flags: int
    seq: int
    data: bytes  # the whole message, header included


def split(data: bytes, error: type[Exception] = ValueError) -> list[Message]:
    """The messages of one datagram; `error` (a one-line message) for a
    truncated header or a length that does not fit."""
    return list(messages(data, error))


def messages(data: bytes, error: type[Exception] = ValueError) -> Iterator[Message]:
    """split(), one message at a time: a reader that stops early (at the
    end of a dump) never judges what follows."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < NLMSG_HDRLEN:
            raise error(f"truncated netlink header: {len(data) - offset} bytes")
        length, mtype, flags, seq, _ = HEADER.unpack_from(data, offset)
        if length < NLMSG_HDRLEN or offset + length > len(data):
            raise error(f"netlink message length {length} does not fit the "
                        f"{len(data) - offset} bytes received")
        yield Message(mtype, flags, seq, data[offset:offset + length])
        offset += (length + 3) & ~3  # NLMSG_ALIGN
