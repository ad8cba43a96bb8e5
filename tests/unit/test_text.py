"""core/text.py: one way to write each kind of fact (its docstring has the
rules); every writer says "?" for an unknown value."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core import text
from auditop.core.text import (UNKNOWN, bytes_text, clock_text, count_text, day_text,
                               elapsed_text, exact_bytes_text, jiffies_cell, jiffies_text,
                               number_text, rate_number, rate_text, seconds_text, share_text,
                               short_number, stamp_text, tick_text, wait_rate_text)


@pytest.mark.parametrize("write", [
    count_text, number_text, rate_text, short_number, bytes_text, exact_bytes_text,
    seconds_text, lambda v: jiffies_text(v, 250), lambda v: jiffies_cell(v, 250),
    lambda v: wait_rate_text(v, 250)])
def test_unknown_is_one_question_mark(write):
    assert write(None).replace("/s", "") == UNKNOWN == "?"


@pytest.mark.parametrize("value, written", [(0, "0"), (8192, "8192"), (4294967295, "4294967295")])
def test_count(value, written):
    assert count_text(value) == written


@pytest.mark.parametrize("part, whole, written", [
    (32, 64, "50%"), (65, 64, "102%"), (1, 3, "33%"), (0, 64, "0%"),
    (5, 0, ""), (None, 64, ""), (5, None, "")])
def test_share(part, whole, written):
    assert share_text(part, whole) == written


@pytest.mark.parametrize("value, written", [
    (0.0, "0/s"), (0.004, "<0.01/s"), (0.04, "0.04/s"), (0.4, "0.4/s"), (20.0, "20/s"),
    (12345.0, "12345/s"), (400_000.0, "400000/s")])
def test_rate(value, written):
    assert rate_text(value) == written


@pytest.mark.parametrize("value, written", [
    (0, "0"), (0.004, "<0.01"), (0.04, "0.04"), (1.25, "1.25"), (5.5, "5.5"), (12.34, "12.3"),
    (999, "999"), (999.7, "1k"), (1500, "1.5k"), (1700, "1.7k"), (12345, "12.3k"),
    (400_000, "400k"), (2_000_000, "2M"), (1.2e9, "1.2G")])
def test_short_number(value, written):
    assert short_number(value) == written


@given(st.floats(min_value=1e-12, max_value=1e12))
def test_no_nonzero_number_is_written_as_zero(value):
    for write in (rate_number, short_number):
        assert write(value).lstrip("<").rstrip("kMG").strip("0.") != "", (write, value)


@pytest.mark.parametrize("value, written", [
    (0, "0 B"), (512, "512 B"), (8396, "8 KiB"), (212992, "208 KiB"),
    (8 * 1024 * 1024, "8.0 MiB"), (36 * 1024 * 1024, "36.0 MiB"), (3 * 2**30, "3.0 GiB")])
def test_bytes(value, written):
    assert bytes_text(value) == written


@pytest.mark.parametrize("value, written", [
    (212992, "212992 bytes (208 KiB)"), (8388608, "8388608 bytes (8.0 MiB)")])
def test_exact_bytes(value, written):
    assert exact_bytes_text(value) == written


@pytest.mark.parametrize("seconds, written", [
    (0.0004, "0.4 ms"), (0.04, "40 ms"), (0.4, "0.4 s"), (1.0, "1 s"), (2.5, "2.5 s"),
    (60, "60 s"), (599, "599 s"), (600, "10 min"), (7199, "120 min"), (7200, "2.0 h")])
def test_duration(seconds, written):
    assert seconds_text(seconds) == written


@pytest.mark.parametrize("seconds, written", [
    (5, "5s"), (30, "30s"), (300, "300s"), (600, "10m"), (1800, "30m"), (7200, "2h")])
def test_tick_switches_where_durations_do(seconds, written):
    assert tick_text(seconds) == written


@pytest.mark.parametrize("seconds, written", [
    (0.4, "0.4 s"), (3, "3 s"), (12.4, "12 s"), (60, "1 min"), (252, "4 min 12 s"),
    (3600, "1 h"), (7380, "2 h 3 min"), (90000, "1 d 1 h")])
def test_elapsed(seconds, written):
    assert elapsed_text(seconds) == written


@pytest.mark.parametrize("jiffies, hz, sentence, cell", [
    (15000, 250, "15000 jiffies (60 s at HZ 250)", "60 s (15000 j)"),
    (500, 250, "500 jiffies (2 s at HZ 250)", "2 s (500 j)"),
    (1, 1000, "1 jiffy (1 ms at HZ 1000)", "1 ms (1 j)"),
    (0, 250, "0 jiffies (0 s at HZ 250)", "0 s (0 j)"),
    (15000, None, "15000 jiffies (HZ unknown)", "15000 j"),
    (15000, 0, "15000 jiffies (HZ unknown)", "15000 j")])
def test_jiffies_carry_their_seconds(jiffies, hz, sentence, cell):
    assert jiffies_text(jiffies, hz) == sentence
    assert jiffies_cell(jiffies, hz) == cell


def test_clock_day_and_stamp_are_local_time():
    epoch = 1_700_000_000.0
    local = time.localtime(epoch)
    assert clock_text(epoch) == time.strftime("%H:%M:%S", local)
    assert day_text(epoch) == time.strftime("%Y-%m-%d", local)
    assert stamp_text(epoch) == f"{day_text(epoch)} {clock_text(epoch)}"


def test_the_docstring_names_every_rule():
    for fact in ("unknown", "count", "share", "number", "rate", "short", "bytes",
                 "duration", "jiffies", "clock"):
        assert f"\n    {fact} " in text.__doc__, fact


@pytest.mark.parametrize(("host", "written"), [
    ("127.0.0.1", "127.0.0.1"), ("::1", "[::1]"), ("[::1]", "[::1]"), ("example.org", "example.org")])
def test_url_host_brackets_ipv6_once(host, written):
    from auditop.core.text import url_host
    assert url_host(host) == written
