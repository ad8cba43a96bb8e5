"""sock_diag request and dump decoding, from packed byte fixtures."""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.probes import sockdiag
from auditop.probes.sockdiag import (
    Dump,
    NetlinkSocketMem,
    SockDiagError,
    SockDiagProtocolError,
    SockDiagRefused,
    decode_dump,
    decode_socket,
    encode_request,
    netlink_diag_msg,
)

HEADER = struct.Struct("=IHHII")


def nlmsg(mtype: int, payload: bytes, seq: int = 7, flags: int = 2) -> bytes:
    """One netlink message, padded to 4 bytes like the kernel does."""
    raw = HEADER.pack(16 + len(payload), mtype, flags, seq, 0) + payload
    return raw + b"\0" * (-len(raw) % 4)


def nla(kind: int, value: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(value), kind) + value
    return raw + b"\0" * (-len(raw) % 4)


def diag_payload(portid: int, inode: int, meminfo=(0, 212992, 0, 212992, 0, 0, 0, 0, 0),
                 groups: bytes | None = None, protocol: int = 9) -> bytes:
    body = struct.pack("=BBBBIIIIQ", 16, 3, protocol, 7, portid, 0, 0, inode, 0)
    attrs = nla(0, struct.pack(f"={len(meminfo)}I", *meminfo)) if meminfo is not None else b""
    if groups is not None:
        attrs += nla(1, groups)
    return body + attrs


def done(seq: int = 7, code: int = 0) -> bytes:
    return nlmsg(3, struct.pack("=i", code), seq)


# Captured from this kernel (6.18): the kernel's audit socket (inode 6) and a
# test socket (portid 6509, inode 11337, SO_RCVBUF 50000 -> rb 100000), then
# NLMSG_DONE, all in one datagram, seq 1.
CAPTURED = bytes.fromhex(
    "5400000014000200010000006d19000010020907000000000000000000000000"
    "0600000006000000000000002800000000000000004003000000000000400300"
    "0000000000000000000000000000000000000000540000001400020001000000"
    "6d190000100309076d1900000000000000000000492c00000210000000000000"
    "2800000000000000a08601000000000000400300000000000000000000000000"
    "00000000000000001400000003000200010000006d19000000000000")


def test_request_is_netlink_diag_req_for_audit_with_memory_and_groups():
    data = encode_request(seq=42)
    length, mtype, flags, seq, portid = HEADER.unpack_from(data)
    assert (length, mtype, seq, portid) == (36, 20, 42, 0)
    assert flags == 0x1 | 0x300  # NLM_F_REQUEST | NLM_F_DUMP
    family, protocol, pad, ino, show, cookie = struct.unpack_from("=BBHIIQ", data, 16)
    assert (family, protocol, pad, ino, show, cookie) == (16, 9, 0, 0, 3, 0)


def test_request_for_another_protocol():
    assert struct.unpack_from("=B", encode_request(1, protocol=15), 17) == (15,)


def test_captured_dump_from_this_kernel():
    dump = decode_dump(CAPTURED, seq=1)
    assert dump == Dump((
        NetlinkSocketMem(portid=0, inode=6, groups=0, rmem_alloc=0, rcvbuf=212992, drops=0),
        NetlinkSocketMem(portid=6509, inode=11337, groups=0, rmem_alloc=0, rcvbuf=100000,
                         drops=0),
    ), True)
    assert dump.sockets[0].is_kernel and not dump.sockets[1].is_kernel


def test_pyroute2_class_reads_the_same_header_fields():
    """The nlmsg class describes the same layout the struct decoder uses."""
    first = CAPTURED[:0x54]
    msg = netlink_diag_msg(first)
    msg.decode()
    assert (msg["ndiag_portid"], msg["ndiag_ino"], msg["ndiag_protocol"]) == (0, 6, 9)
    assert msg.get_attr("NETLINK_DIAG_MEMINFO")[4:8] == struct.pack("=I", 212992)


def test_memory_drops_and_groups():
    payload = diag_payload(1234, 7560, meminfo=(4352, 212992, 0, 212992, 0, 0, 0, 0, 17),
                           groups=struct.pack("=Q", 1))
    assert decode_socket(payload) == NetlinkSocketMem(1234, 7560, 1, 4352, 212992, 17)


def test_groups_bitmap_of_u32_words():
    payload = diag_payload(5, 6, groups=struct.pack("=II", 0b101, 1))
    assert decode_socket(payload).groups == 0b101 | (1 << 32)


def test_old_kernel_without_drops_in_meminfo():
    payload = diag_payload(1, 2, meminfo=(0, 212992, 0, 212992, 0, 0, 0, 0))
    assert decode_socket(payload).drops is None


def test_dump_spanning_datagrams_is_not_done_until_nlmsg_done():
    first = decode_dump(nlmsg(20, diag_payload(1, 10)) + nlmsg(20, diag_payload(2, 11)), seq=7)
    second = decode_dump(nlmsg(20, diag_payload(3, 12)) + done(), seq=7)
    assert [s.inode for s in first.sockets] == [10, 11] and not first.done
    assert [s.inode for s in second.sockets] == [12] and second.done


def test_stale_sequence_and_noop_are_skipped():
    data = nlmsg(20, diag_payload(1, 10), seq=6) + nlmsg(1, b"") + nlmsg(20, diag_payload(2, 11))
    assert [s.inode for s in decode_dump(data, seq=7).sockets] == [11]


def test_nothing_after_done_is_read():
    data = done() + b"\xff" * 3
    assert decode_dump(data, seq=7) == Dump((), True)


@pytest.mark.parametrize("message", [
    nlmsg(2, struct.pack("=i", -errno.ENOENT) + HEADER.pack(36, 20, 0x301, 7, 0)),
    done(code=-errno.ENOENT),
])
def test_error_reply_and_failed_done_raise_refused_with_errno(message):
    with pytest.raises(SockDiagRefused) as caught:
        decode_dump(message, seq=7)
    assert caught.value.code == errno.ENOENT
    assert "ENOENT" in str(caught.value) and "\n" not in str(caught.value)


def test_refused_is_an_oserror():
    assert issubclass(SockDiagRefused, OSError)
    assert issubclass(sockdiag.SockDiagUnavailable, OSError)


def test_positive_or_zero_error_is_an_ack_not_a_failure():
    assert decode_dump(nlmsg(2, struct.pack("=i", 0)), seq=7) == Dump((), False)


@pytest.mark.parametrize("data, needle", [
    (b"\x10\x00", "truncated netlink header"),
    (HEADER.pack(100, 20, 2, 7, 0), "does not fit"),
    (HEADER.pack(8, 20, 2, 7, 0), "does not fit"),
    (nlmsg(20, b"\x10\x03"), "netlink_diag_msg of 2 bytes"),
    (nlmsg(20, diag_payload(1, 2, meminfo=None)), "no memory info"),
    (nlmsg(20, diag_payload(1, 2, meminfo=(5,))), "truncated"),
    (nlmsg(20, diag_payload(1, 2, meminfo=None) + struct.pack("=HH", 40, 0)), "attribute length"),
    (nlmsg(20, diag_payload(1, 2, meminfo=None) + struct.pack("=HH", 2, 0)), "attribute length"),
    (nlmsg(2, b"\x01"), "truncated netlink error"),
])
def test_malformed_replies_raise_protocol_error(data, needle):
    with pytest.raises(SockDiagProtocolError, match=needle):
        decode_dump(data, seq=7)


@given(st.binary(max_size=400))
def test_decode_never_raises_anything_else_on_arbitrary_bytes(data):
    try:
        decode_dump(data)
    except SockDiagError as exc:
        assert "\n" not in str(exc)


@given(st.integers(min_value=0, max_value=len(CAPTURED)))
def test_decode_of_a_truncated_dump_raises_only_its_own_errors(cut):
    try:
        decode_dump(CAPTURED[:cut], seq=1)
    except SockDiagError as exc:  # the documented outcome for a cut reply
        assert str(exc)


def test_duplicate_reports_of_one_socket_are_merged():
    a = NetlinkSocketMem(1, 10, 1, 0, 212992, 0)
    b = NetlinkSocketMem(2, 11, 0, 0, 212992, 0)
    assert sockdiag._unique([a, b, a]) == (a, b)


@given(st.integers(0, 2**32 - 1), st.sampled_from([9, 15, 0]))
def test_the_patched_template_is_the_encoded_request(seq, protocol):
    """encode_request patches a cached encoding: byte for byte what
    pyroute2 encodes for that sequence number and protocol."""
    from auditop.probes.sockdiag import _encode_request
    assert encode_request(seq, protocol) == _encode_request(seq, protocol)
