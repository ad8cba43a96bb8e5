"""Times in a recording as a person types them (core/timespec.py): clock
times, dates and offsets read back as written, garbage refused in one line,
a clock time placed at its first occurrence in the recording (across
midnight too), and the stretch between --from and --to picked window by
window, with a time outside the recording named with its span."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.timespec import (AFTER, BEFORE, INSIDE, BadRange, BadTime, Stretch,
                                   instant, offset_text, parse, resolve, span_text)


@pytest.fixture(autouse=True)
def _utc(utc):
    """Clock times are local (tests/conftest.py pins the zone)."""


def at(text: str) -> float:
    """Epoch seconds of a UTC "YYYY-MM-DD HH:MM:SS"."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


# -- parsing: round trips ------------------------------------------------------------

@given(st.integers(0, 400 * 86400))
def test_an_offset_reads_back_as_written(seconds):
    text = offset_text(seconds)
    spec = parse(text)
    assert (spec.kind, spec.seconds, spec.text) == ("offset", seconds, text)
    assert parse(f"{seconds}s").seconds == parse(f"+{seconds}").seconds == seconds


@given(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))
def test_hours_minutes_and_seconds_add_up(hours, minutes, seconds):
    for text in (f"+{hours}h{minutes}m{seconds}s", f"{hours}h{minutes}m{seconds}s"):
        assert parse(text).seconds == hours * 3600 + minutes * 60 + seconds
    assert parse(f"+{hours}h").seconds == hours * 3600
    assert parse(f"{minutes}m").seconds == minutes * 60


@given(st.times())
def test_a_clock_time_reads_back_as_written(clock):
    whole = clock.replace(microsecond=0)
    assert parse(whole.isoformat()).clock == whole
    assert parse(whole.isoformat()).precision == 1.0
    assert parse(whole.strftime("%H:%M")).clock == whole.replace(second=0)
    assert parse(whole.strftime("%H:%M")).precision == 60.0
    assert parse(whole.strftime("%-H:%M")).clock == whole.replace(second=0)  # 9:05 too
    assert parse(clock.isoformat()).clock == clock  # with a fraction, to the microsecond


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)),
       st.sampled_from(["T", " "]))
def test_a_date_and_time_reads_back_as_written(moment, sep):
    moment = moment.replace(microsecond=0)
    spec = parse(moment.isoformat(sep=sep))
    assert (spec.kind, spec.moment, spec.precision) == ("date", moment, 1.0)
    assert instant(spec, start=0.0) == moment.replace(tzinfo=timezone.utc).timestamp()
    day = parse(moment.date().isoformat())
    assert day.moment == datetime.combine(moment.date(), datetime.min.time())
    assert day.precision == 86400.0


def test_a_zone_after_the_time_is_honoured():
    assert instant(parse("2026-12-07T14:03:20Z"), start=0.0) == at("2026-12-07 14:03:20")
    assert instant(parse("2026-12-07T15:03:20+01:00"), start=0.0) == at("2026-12-07 14:03:20")
    assert instant(parse("2026-12-07T09:33:20-0430"), start=0.0) == at("2026-12-07 14:03:20")


# -- parsing: garbage ------------------------------------------------------------------

@given(st.text(max_size=80))
def test_anything_typed_is_a_time_or_one_line_saying_why_not(text):
    try:
        spec = parse(text)
    except BadTime as error:
        message = str(error)
        assert "\n" not in message and "\r" not in message and 0 < len(message) < 240
        return
    assert spec.kind in ("offset", "clock", "date") and spec.text == text.strip()


@pytest.mark.parametrize("text, says", [
    ("", "no time given"),
    ("14", "an offset needs a + or a unit: +14 or 14s; a clock time a colon: 14:00"),
    ("-5m", "an offset counts from the start"),
    ("25:00", "no such time of day: '25:00'"),
    ("12:60", "no such time of day"),
    ("2026-02-30", "no such date: '2026-02-30'"),
    ("2026-12-07T14:03+25:00", "no such time zone"),
    ("1h30", "not a time: '1h30' (want 14:03, 14:03:20, 2026-12-07T14:03:20, or an offset"),
    ("+", "not a time"), ("5 m", "not a time"), ("yesterday", "not a time"),
    ("14:03:20:10", "not a time"), ("+1e3", "not a time"), ("nan", "not a time"),
    ("１４:03", "not a time"),
])
def test_what_is_refused_and_why(text, says):
    with pytest.raises(BadTime) as refused:
        parse(text)
    assert says in str(refused.value)


# -- in a recording --------------------------------------------------------------------

def test_a_clock_time_is_the_first_such_time_in_the_recording():
    start = at("2026-12-07 23:00:00")  # a recording across midnight
    assert instant(parse("23:30"), start=start) == at("2026-12-07 23:30:00")
    assert instant(parse("00:30"), start=start) == at("2026-12-08 00:30:00")
    assert instant(parse("22:59:59"), start=start) == at("2026-12-08 22:59:59")
    # the minute typed holds the start: the start's own minute
    assert instant(parse("23:00"), start=at("2026-12-07 23:00:40")) == at("2026-12-07 23:00:00")


def test_resolve_names_the_span_when_outside():
    start, end = at("2026-12-07 14:03:20"), at("2026-12-07 14:40:02")
    assert resolve(parse("+90"), start=start, end=end) == start + 90
    assert resolve(parse("14:03"), start=start, end=end) == at("2026-12-07 14:03:00")
    assert resolve(parse("14:40:02"), start=start, end=end) == end
    for outside in ("14:41", "+37m", "2026-12-06", "14:02:59", "2026-12-07T14:40:03"):
        with pytest.raises(BadRange) as refused:
            resolve(parse(outside), start=start, end=end)
        assert str(refused.value) == (f"{outside} is outside the recording: "
                                      "2026-12-07 14:03:20 to 14:40:02")
    assert span_text(at("2026-12-07 23:00:00"), at("2026-12-08 01:00:00")) == (
        "2026-12-07 23:00:00 to 2026-12-08 01:00:00")


def windows(first: str, count: int, seconds: float = 1.0) -> list[tuple[float, float]]:
    """(close, seconds) of `count` windows, the first closing at `first`."""
    return [(at(first) + i * seconds, seconds) for i in range(count)]


def pick(stretch: Stretch, recording: list[tuple[float, float]]) -> list[float]:
    """The closes taken, reading as a reader does: up to AFTER, then finish()."""
    taken = []
    for closed, seconds in recording:
        verdict = stretch.take(closed, seconds)
        if verdict == AFTER:
            break
        if verdict == INSIDE:
            taken.append(closed)
        else:
            assert verdict == BEFORE
    stretch.finish()
    return taken


def test_the_stretch_is_the_windows_covering_from_to_to():
    day = windows("2026-12-07 14:00:01", 600)  # 14:00:00 to 14:10:00
    got = pick(Stretch(parse("14:03:20"), parse("14:03:25")), day)
    assert got == [at("2026-12-07 14:03:20") + i for i in range(6)]  # 14:03:20 ... :25
    got = pick(Stretch(parse("+60"), parse("+2m")), day)
    assert (got[0], got[-1]) == (at("2026-12-07 14:01:00"), at("2026-12-07 14:02:00"))
    assert pick(Stretch(None, parse("14:00:05")), day)[-1] == at("2026-12-07 14:00:05")
    assert pick(Stretch(parse("14:09:59"), None), day) == [at("2026-12-07 14:09:59"),
                                                           at("2026-12-07 14:10:00")]


def test_to_stops_the_reading_and_is_the_first_such_time_after_from():
    night = windows("2026-12-07 23:50:01", 1200, seconds=1.0)  # to 00:10:00
    stretch = Stretch(parse("23:59:58"), parse("00:00:01"))
    assert pick(stretch, night) == [at("2026-12-07 23:59:58") + i for i in range(4)]
    assert stretch.last < night[-1][0]  # stopped at the first window past --to
    two_days = windows("2026-12-07 12:00:01", 48, seconds=3600)
    got = pick(Stretch(parse("13:00"), parse("12:30")), two_days)  # Tuesday's 12:30
    assert got[0] == at("2026-12-07 13:00:01") and got[-1] == at("2026-12-08 13:00:01")


@pytest.mark.parametrize("start, end, says", [
    ("14:20", None, "--from 14:20 is outside the recording: 2026-12-07 14:00:00 to 14:10:00"),
    (None, "+11m", "--to +11m is outside the recording: 2026-12-07 14:00:00 to 14:10:00"),
    (None, "2026-12-07T13:00", "--to 2026-12-07T13:00 is outside the recording: "
                               "2026-12-07 14:00:00 to 14:10:00"),
    ("2026-12-06", None, "--from 2026-12-06 is outside the recording"),
    ("+5m", "+2m", "--to +2m is not after --from +5m"),
    ("14:05:30", "14:05", "--to 14:05 is not after --from 14:05:30"),
])
def test_a_time_outside_the_recording_is_one_line_naming_its_span(start, end, says):
    stretch = Stretch(start and parse(start), end and parse(end))
    with pytest.raises(BadRange) as refused:
        pick(stretch, windows("2026-12-07 14:00:01", 600))
    assert str(refused.value).startswith(says) and "\n" not in str(refused.value)


def test_a_gap_in_the_recording_is_said():
    gap = windows("2026-12-07 14:00:01", 60) + windows("2026-12-07 15:00:01", 60)
    with pytest.raises(BadRange) as refused:
        pick(Stretch(parse("14:10"), parse("14:20")), gap)
    assert str(refused.value) == ("no window from --from 14:10 to --to 14:20: the recording "
                                  "has a gap from 14:01:00 to 15:00:00")


def test_without_times_every_window_is_taken_and_it_is_settled():
    stretch = Stretch()
    assert not stretch.active and stretch.settled
    assert len(pick(stretch, windows("2026-12-07 14:00:01", 30))) == 30


@given(st.integers(0, 299), st.integers(1, 300))
def test_offsets_pick_exactly_the_windows_between(begin, length):
    recording = windows("2026-12-07 14:00:01", 300)  # start 14:00:00, one a second
    end = begin + length
    if end > 300:
        with pytest.raises(BadRange):
            pick(Stretch(parse(f"+{begin}"), parse(f"+{end}s")), recording)
        return
    got = pick(Stretch(parse(f"+{begin}"), parse(f"+{end}s")), recording)
    start = at("2026-12-07 14:00:00")
    # every window that closes at or after --from and began before --to
    assert got == [closed for closed, s in recording
                   if closed >= start + begin and closed - s < start + end]
    assert got[0] - start == max(begin, 1) and got[-1] - start == end


def test_dst_and_other_zones_keep_the_local_clock(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    start = datetime(2026, 3, 29, 1, 0).timestamp()  # an hour before the clocks go forward
    assert datetime.fromtimestamp(instant(parse("03:30"), start=start)).strftime(
        "%H:%M") == "03:30"
    assert instant(parse("+2h"), start=start) == start + timedelta(hours=2).total_seconds()
