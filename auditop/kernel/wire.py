"""AUDIT_GET and AUDIT_SET on the wire, as pyroute2 message classes.

pyroute2 has no audit module, so the messages are defined here on its
`nlmsg`. Everything in this module is pure (bytes in, values out) so it can
be tested with byte fixtures; the socket lives in client.py.
"""

from __future__ import annotations

import struct

from auditop.probes.netlink_classes import NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, nlmsg

from auditop.core.model import SETTABLE_FIELDS, STATUS_FIELDS, AuditStatus
from auditop.core.errors import ProtocolError, from_errno
from auditop.probes import frames
from auditop.probes.frames import NLMSG_HDRLEN, Message

NETLINK_AUDIT = 9
AUDIT_GET = 1000
AUDIT_SET = 1001

# AUDIT_STATUS_* bits of `mask`, for the fields auditop may set.
SET_MASK = {"rate_limit": 0x08, "backlog_limit": 0x10, "backlog_wait_time": 0x20}

# The oldest kernels reply with mask + 7 fields (32 bytes); 3.14 added two
# (40 bytes), 5.9 one more (44 bytes).
MIN_STATUS_FIELDS = 7


class audit_status(nlmsg):
    """struct audit_status: every field a host-order u32."""

    __slots__ = ()
    fields = (("mask", "I"),) + tuple((name, "I") for name in STATUS_FIELDS)


# A short reply carries a prefix of the struct. Decoding goes through a struct
# compiled from the same field list, one per prefix length, so a missing field
# is absent rather than read from bytes that are not there (pyroute2's own
# decode costs ~16 us a reply, a fifth of the round trip).
_STATUS_PREFIXES = {
    count: struct.Struct("=" + "".join(fmt for _, fmt in audit_status.fields[: count + 1]))
    for count in range(MIN_STATUS_FIELDS, len(STATUS_FIELDS) + 1)
}


def _encode_get_template() -> bytes:
    msg = nlmsg()
    msg["header"].update(type=AUDIT_GET, flags=NLM_F_REQUEST)
    msg.encode()
    return bytes(msg.data)


# Polled ten times a second: encode once, then only patch the sequence number
# (pyroute2's encode costs ~8 us, a tenth of the round trip).
_GET_TEMPLATE = _encode_get_template()
_SEQ = struct.Struct("=I")


class audit_ack(nlmsg):
    """NLMSG_ERROR: a signed errno (0 = ACK), then the request's header."""

    __slots__ = ()
    fields = (("error", "i"),)


def encode_get(seq: int) -> bytes:
    request = bytearray(_GET_TEMPLATE)
    _SEQ.pack_into(request, 8, seq)
    return bytes(request)


def encode_set(seq: int, field: str, value: int) -> bytes:
    """One field per request, in a full-size struct, asking for an ACK."""
    if field not in SETTABLE_FIELDS:
        raise ValueError(f"auditop does not set {field!r}")
    if not 0 <= value <= 2**32 - 1:
        raise ValueError(f"{field} must fit in 32 bits unsigned, not {value}")
    msg = audit_status()
    msg["header"].update(type=AUDIT_SET, flags=NLM_F_REQUEST | NLM_F_ACK,
                         sequence_number=seq)
    msg["mask"] = SET_MASK[field]
    for name in STATUS_FIELDS:
        msg[name] = 0
    msg[field] = value
    msg.encode()
    return bytes(msg.data)


def split(data: bytes) -> list[Message]:
    """Cut one datagram into netlink messages (ProtocolError if one lies)."""
    return frames.split(data, ProtocolError)


def decode_status(message: Message) -> AuditStatus:
    payload = len(message.data) - NLMSG_HDRLEN
    count = payload // 4 - 1  # fields after `mask`
    if payload % 4 or count < MIN_STATUS_FIELDS:
        raise ProtocolError(
            f"audit status reply of {payload} bytes is truncated "
            f"(expected 32, 36, 40 or 44)")
    # A newer kernel may append fields we do not know yet: decode the known ones.
    count = min(count, len(STATUS_FIELDS))
    values = _STATUS_PREFIXES[count].unpack_from(message.data, NLMSG_HDRLEN)
    return AuditStatus(*values[1:])


def decode_error(message: Message) -> int:
    """The errno of an NLMSG_ERROR message, as the kernel sent it: 0 is an
    ACK, negative an error, positive an old counter (lost reset)."""
    if message.type != NLMSG_ERROR:
        raise ValueError(f"message type {message.type} is not NLMSG_ERROR")
    if len(message.data) < NLMSG_HDRLEN + 4:
        raise ProtocolError("truncated netlink error message")
    msg = audit_ack(message.data)
    msg.decode()
    return msg["error"]


ACK = Message(NLMSG_ERROR, 0, 0, b"")  # what `answer` returns for a bare ACK


def answer(messages: list[Message], seq: int, want_type: int | None) -> Message | None:
    """The answer to request `seq` among `messages`, or None if it is not
    there yet: a message of `want_type`, or ACK when want_type is None.
    Answers to other (timed-out) requests are skipped; the kernel may send
    an ACK before or after the data; an error reply raises AuditError."""
    for message in messages:
        if message.seq != seq:
            continue
        if message.type == NLMSG_ERROR:
            code = decode_error(message)
            if code < 0:
                raise from_errno(-code)
            if want_type is None:
                return ACK
        elif message.type == want_type:
            return message
    return None
