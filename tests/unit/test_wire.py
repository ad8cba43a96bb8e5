"""AUDIT_GET/AUDIT_SET wire format, from byte fixtures."""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.model import SETTABLE_FIELDS, STATUS_FIELDS, AuditStatus
from auditop.kernel import wire
from auditop.core.errors import (AuditError, InvalidValue, NoAuditSupport,
                                   NotInitialUserNamespace, NotPrivileged, ProtocolError)

HEADER = struct.Struct("=IHHII")
# What this machine's kernel answered (6.18): 44-byte payload, values as read.
FULL_VALUES = (0, 1, 1234, 0, 8192, 7, 3, 127, 15000, 42)


def reply(values, seq=1, mtype=wire.AUDIT_GET, mask=0):
    payload = struct.pack(f"={len(values) + 1}I", mask, *values)
    return HEADER.pack(16 + len(payload), mtype, 0, seq, 0) + payload


def error_reply(code, seq=1):
    request = HEADER.pack(16, wire.AUDIT_GET, 1, seq, 4242)
    return HEADER.pack(16 + 4 + len(request), wire.NLMSG_ERROR, 0, seq, 0) + \
        struct.pack("=i", code) + request


def decode(data):
    (message,) = wire.split(data)
    return wire.decode_status(message)


def test_full_reply_decodes_every_field():
    status = decode(reply(FULL_VALUES))
    assert status == AuditStatus(*FULL_VALUES)
    assert status.backlog_wait_time_actual == 42


def test_40_byte_reply_has_no_wait_time_actual():
    status = decode(reply(FULL_VALUES[:9]))
    assert status.backlog_wait_time == 15000
    assert status.backlog_wait_time_actual is None  # absent, not zero


def test_32_byte_reply_has_only_the_original_fields():
    status = decode(reply(FULL_VALUES[:7]))
    assert status.backlog == 3
    assert (status.feature_bitmap, status.backlog_wait_time,
            status.backlog_wait_time_actual) == (None, None, None)


def test_longer_reply_from_a_newer_kernel_keeps_the_known_fields():
    status = decode(reply(FULL_VALUES + (99, 98)))
    assert status == AuditStatus(*FULL_VALUES)


@pytest.mark.parametrize("payload_bytes", [0, 4, 28, 30, 42])
def test_truncated_status_is_a_protocol_error(payload_bytes):
    payload = bytes(payload_bytes)
    data = HEADER.pack(16 + len(payload), wire.AUDIT_GET, 0, 1, 0) + payload
    with pytest.raises(ProtocolError, match="truncated"):
        decode(data)


@pytest.mark.parametrize("data", [
    b"\x3c\x00",                                    # shorter than a header
    HEADER.pack(60, wire.AUDIT_GET, 0, 1, 0),       # claims 60, carries 16
    HEADER.pack(8, wire.AUDIT_GET, 0, 1, 0),        # claims less than a header
    reply(FULL_VALUES)[:-4],                        # cut inside the payload
])
def test_malformed_datagrams_are_protocol_errors(data):
    with pytest.raises(ProtocolError):
        wire.split(data)


def test_split_walks_several_messages():
    data = error_reply(0, seq=5) + reply(FULL_VALUES, seq=5)
    messages = wire.split(data)
    assert [m.type for m in messages] == [wire.NLMSG_ERROR, wire.AUDIT_GET]


@pytest.mark.parametrize("order", ["ack-first", "status-first"])
def test_answer_finds_the_status_whatever_the_ack_order(order):
    ack, status = error_reply(0, seq=9), reply(FULL_VALUES, seq=9)
    data = ack + status if order == "ack-first" else status + ack
    message = wire.answer(wire.split(data), 9, wire.AUDIT_GET)
    assert wire.decode_status(message).backlog_limit == 8192


def test_answer_waits_for_data_after_a_lone_ack():
    assert wire.answer(wire.split(error_reply(0, seq=3)), 3, wire.AUDIT_GET) is None


def test_answer_to_a_set_is_the_ack():
    assert wire.answer(wire.split(error_reply(0, seq=3)), 3, None) is wire.ACK


def test_answer_skips_stale_replies_to_timed_out_requests():
    data = reply((9,) * 10, seq=1) + error_reply(-errno.EPERM, seq=1) + reply(FULL_VALUES, seq=2)
    message = wire.answer(wire.split(data), 2, wire.AUDIT_GET)
    assert wire.decode_status(message) == AuditStatus(*FULL_VALUES)


@pytest.mark.parametrize(("code", "error"), [
    (errno.EPERM, NotPrivileged),
    (errno.EPROTONOSUPPORT, NoAuditSupport),
    (errno.ECONNREFUSED, NotInitialUserNamespace),
    (errno.EINVAL, InvalidValue),
])
def test_error_replies_become_errors_a_person_can_act_on(code, error):
    with pytest.raises(error) as raised:
        wire.answer(wire.split(error_reply(-code, seq=4)), 4, wire.AUDIT_GET)
    assert "Traceback" not in str(raised.value) and str(raised.value)


def test_not_privileged_says_what_is_needed():
    with pytest.raises(NotPrivileged, match="CAP_AUDIT_CONTROL.*root"):
        wire.answer(wire.split(error_reply(-errno.EPERM)), 1, wire.AUDIT_GET)


def test_unknown_errno_still_gives_one_line():
    with pytest.raises(AuditError, match="EBUSY"):
        wire.answer(wire.split(error_reply(-errno.EBUSY)), 1, wire.AUDIT_GET)


def test_positive_error_code_is_an_old_counter_not_an_error():
    # A lost-counter reset answers with the old value as a positive code.
    message = wire.split(error_reply(1234))[0]
    assert wire.decode_error(message) == 1234
    assert wire.answer([message], 1, None) is wire.ACK


def test_truncated_error_message_is_a_protocol_error():
    data = HEADER.pack(18, wire.NLMSG_ERROR, 0, 1, 0) + b"\x00\x00"
    with pytest.raises(ProtocolError):
        wire.answer(wire.split(data), 1, None)


def test_get_request_is_a_bare_header():
    assert wire.encode_get(77) == HEADER.pack(16, wire.AUDIT_GET, wire.NLM_F_REQUEST, 77, 0)


@pytest.mark.parametrize("field", SETTABLE_FIELDS)
def test_set_request_is_full_size_with_one_field_and_ack(field):
    data = wire.encode_set(5, field, 321)
    length, mtype, flags, seq, _ = HEADER.unpack_from(data)
    assert (length, mtype, seq) == (16 + 44, wire.AUDIT_SET, 5)
    assert flags == wire.NLM_F_REQUEST | wire.NLM_F_ACK
    mask, *values = struct.unpack_from("=11I", data, 16)
    assert mask == wire.SET_MASK[field]
    assert dict(zip(STATUS_FIELDS, values)) == {
        name: 321 if name == field else 0 for name in STATUS_FIELDS}


@pytest.mark.parametrize("field", ["failure", "enabled", "pid", "lost", "bogus"])
def test_set_refuses_fields_auditop_never_touches(field):
    with pytest.raises(ValueError):
        wire.encode_set(1, field, 1)


@pytest.mark.parametrize("value", [-1, 2**32])
def test_set_refuses_values_outside_u32(value):
    with pytest.raises(ValueError):
        wire.encode_set(1, "backlog_limit", value)


u32 = st.integers(min_value=0, max_value=2**32 - 1)


@given(field=st.sampled_from(SETTABLE_FIELDS), value=u32,
       seq=st.integers(min_value=0, max_value=2**32 - 1))
def test_set_request_round_trips_through_the_status_decoder(field, value, seq):
    (message,) = wire.split(wire.encode_set(seq, field, value))
    assert message.seq == seq
    assert getattr(wire.decode_status(message), field) == value


@given(values=st.lists(u32, min_size=7, max_size=12))
def test_any_whole_reply_decodes_its_known_prefix(values):
    status = decode(reply(tuple(values)))
    known = values[: len(STATUS_FIELDS)]
    assert [getattr(status, name) for name in STATUS_FIELDS[: len(known)]] == known
    assert all(getattr(status, name) is None for name in STATUS_FIELDS[len(known):])


@given(data=st.binary(max_size=200))
def test_garbage_never_crashes_the_decoder(data):
    try:
        messages = wire.split(data)
        wire.answer(messages, 1, wire.AUDIT_GET)
        for message in messages:
            if message.type == wire.AUDIT_GET:
                assert isinstance(wire.decode_status(message), AuditStatus)
    except AuditError as error:  # ProtocolError or a decoded kernel error: both clear
        assert str(error)
