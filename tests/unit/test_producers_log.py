"""Producers from auditd's log (core/producers.LogCounts, source "log"): the
recorded stream of test_producers.py written as auditd writes it (`type=NAME
msg=audit(...): ...`, log_format ENRICHED appending 0x1d and names), counted
the same as the multicast copies, and sampled by bytes when it floods."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auditop.core.producers import (NO_KEY, TYPE_NAMES, LogCounts, ProducerCounts, log_record,
                                    type_name, type_number)
from tests.unit.test_producers import ALPHA, BETA, entry, stream

ENRICHED_TAIL = b"\x1dARCH=x86_64 SYSCALL=openat AUID=\"unset\" UID=\"root\""


def log_lines(records, enriched: bool = True) -> bytes:
    lines = []
    for mtype, text in records:
        line = b"type=" + TYPE_NAMES[mtype].encode() + b" msg=" + text
        if enriched and mtype == 1300:
            line += ENRICHED_TAIL
        lines.append(line)
    return b"\n".join(lines) + b"\n"


def test_a_log_line_is_the_record_the_kernel_sent():
    mtype, text = stream()[0]
    assert log_record(log_lines([(mtype, text)]).rstrip(b"\n")) == (mtype, text)
    assert log_record(b"node=web1 type=SYSCALL msg=audit(1.2:3): x") is None
    assert log_record(b"garbage") is None
    assert log_record(b"type=SYSCALL") is None


def test_log_types_by_name_unknown_numbers_and_names_of_its_own():
    assert type_number(b"SYSCALL") == 1300
    assert type_number(b"UNKNOWN[1334]") == 1334
    own = type_number(b"SERVICE_START")
    assert own not in range(1300, 1400) and type_name(own) == "SERVICE_START"
    assert type_number(b"SERVICE_START") == own  # the same id every time


def test_the_log_counts_what_the_listener_counts():
    records = stream()
    counts = ProducerCounts()
    counts.add_many(records)
    from_kernel = counts.window(2.0)
    log = LogCounts()
    data = log_lines(records)
    log.feed(data[:len(data) // 2].rpartition(b"\n")[0] + b"\n")  # two reads, cut at lines
    log.feed(data[len(data[:len(data) // 2].rpartition(b"\n")[0]) + 1:])
    window = log.drain(2.0)
    assert window.source == "log" and window.records == 404 and window.sampled == 1.0
    for dimension in ("by_key", "by_comm", "by_type", "by_exe"):
        assert getattr(window, dimension) == getattr(from_kernel, dimension), dimension
    assert entry(window, "by_key", ALPHA).records == 300
    assert entry(window, "by_key", NO_KEY).records == 4  # ENRICHED names never leak in


def test_a_flood_is_parsed_in_part_counted_in_full_and_scaled():
    data = log_lines(stream()) * 50  # 20 200 lines
    log = LogCounts(parse_bytes=len(data) // 10)
    log.feed(data)
    window = log.drain(1.0)
    assert window.records == 20_200  # every line, from bytes.count
    assert 0.08 < window.sampled < 0.12
    alpha, beta = entry(window, "by_key", ALPHA), entry(window, "by_key", BETA)
    assert abs(alpha.records / window.records - 300 / 404) < 0.02
    assert abs(alpha.records / beta.records - 3) < 0.2
    assert abs(alpha.per_s - alpha.records) <= 1  # a 1 s window


def test_bytes_jumped_over_are_missed_in_lines_and_the_next_window_starts_afresh():
    data = log_lines(stream())
    log = LogCounts()
    log.feed(data, skipped_bytes=len(data) * 2)
    window = log.drain(1.0)
    assert window.records == 404 and 780 <= window.missed <= 840
    assert log.drain(1.0).records == 0


@given(st.binary(max_size=2000))
def test_any_bytes_are_counted_without_error(data):
    log = LogCounts(parse_bytes=500)
    log.feed(data)
    window = log.drain(1.0)
    assert window.records >= 0 and 0.0 <= window.sampled <= 1.0
    assert sum(e.records for e in window.by_type) <= window.records + len(window.by_type)
