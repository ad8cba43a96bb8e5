"""Untrusted recordings (issue 14): every field of a line, whatever its value
(huge integers, NaN, negative numbers, strings, nulls, nested junk), is used
or its line is skipped and counted, through the reader, `auditop plot` and
the replay; a file that is no recording (a device, a pipe for a replay, no
line breaks) is refused in one line without reading on forever."""

from __future__ import annotations

import copy
import json
import math
import os
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditop.commands import common
from auditop.commands.plot import plot
from auditop.core.feed import Notice
from auditop.sources import recording
from auditop.sources.recording import (MAX_COUNT, MAX_NUMBER, MAX_TIME, MAX_U32,
                                       NotARecording, Note, RecordedWindow, Skipped,
                                       iter_recording, problems_text, read_recording)
from auditop.sources.replay import ReplayPlayer

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# -- valid lines, as the recorder writes them (docs/json.md) ------------------------

COUNT = st.integers(0, MAX_U32)
RATE = st.one_of(st.none(), st.floats(0, MAX_NUMBER), st.integers(0, 2 ** 40))
STATUS_NAMES = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost",
                "backlog", "feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual")


@st.composite
def valid_lines(draw) -> dict:
    """A line every field of which is in range: read as a window."""
    window = {
        "seconds": draw(st.floats(0, 3600)), "samples": draw(st.integers(0, 500)),
        "failures": draw(st.integers(0, 500)),
        "backlog_peak": draw(st.none() | COUNT), "lost": draw(st.none() | COUNT),
        "lost_per_s": draw(RATE), "netlink_drops_per_s": draw(RATE),
        "wait_per_s": draw(RATE), "lost_seconds": draw(st.floats(0, 3600)),
        "drops_seconds": draw(st.floats(0, 3600)), "wait_seconds": draw(st.floats(0, 3600)),
        "loss_causes": {"backlog": draw(st.integers(0, 1000))}, "loss_suppressed": 0,
    }
    return {
        "version": draw(st.sampled_from([1, 2])),
        "time": draw(st.floats(0, MAX_TIME)),
        "status": {name: draw(COUNT) for name in STATUS_NAMES},
        "system": {
            "rmem_default": 212992, "rmem_max": 4194304, "hz": draw(st.integers(0, 1000)),
            "auditd": {"pid": 812, "name": "auditd", "state": "S",
                       "start_time": 1795329000.0, "netlink_rmem": 0, "netlink_drops": 0,
                       "netlink_rcvbuf": 212992},
            "multicast_readers": [{"portid": 2147483650, "rmem": 0, "drops": 3}],
            "auditd_conf": {"path": "/etc/audit/auditd.conf", "flush": "incremental_async",
                            "freq": 50, "q_depth": 2000, "active_plugins": ["af_unix"]},
            "boot": {"audit": "1", "audit_backlog_limit": 8192},
            "mem_total": 25276510208,
        },
        "findings": [{"id": "lost-increasing", "severity": "critical",
                      "title": "Audit records are being lost", "detail": "...",
                      "remedy": None}],
        "error": None, "held_senders": draw(st.integers(0, 50)),
        "held_for": draw(st.floats(0, 60)), "window": window,
    }


# -- any JSON value, the nasty ones first -------------------------------------------

NASTY = [10 ** 400, -10 ** 400, 2 ** 63, 2 ** 64, MAX_COUNT + 1, MAX_U32 + 1, -1, -0.0,
         1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf, True, False, "", "65",
         "NaN", [], {}, [[[[]]]], {"backlog_limit": 10 ** 400}, None]
SCALARS = (st.sampled_from(NASTY) | st.none() | st.booleans() | st.integers()
           | st.floats() | st.text(max_size=12))
VALUES = st.sampled_from(NASTY) | SCALARS | st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
DELETE = object()


def paths(value, prefix=()) -> list[tuple]:
    """Every place in a JSON value (keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, prefix + (index,))
    return found


@st.composite
def mutated_lines(draw) -> dict:
    """A valid line with one to five of its fields (at any depth) replaced
    by any JSON value, or removed."""
    line = draw(valid_lines())
    for _ in range(draw(st.integers(1, 5))):
        where = draw(st.sampled_from(paths(line)))
        parent = line
        for key in where[:-1]:
            parent = parent[key]
        value = draw(st.just(DELETE) | VALUES)
        if value is DELETE and isinstance(parent, dict):
            del parent[where[-1]]
        elif value is not DELETE:
            # A copy: a later step may change inside it, and NASTY's lists and
            # dicts are shared by every example (hypothesis then sees the
            # strategy change under it: FlakyStrategyDefinition).
            parent[where[-1]] = copy.deepcopy(value)
        if not paths(line):
            break
    return line


def write_lines(path, lines) -> None:
    # allow_nan: NaN and Infinity are written as JSON never allows, as a damaged file may
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def check_window(window: RecordedWindow) -> None:
    """A window read holds only values in the documented ranges."""
    assert 0 <= window.time <= MAX_TIME and 0 <= window.seconds <= MAX_TIME
    for count in (window.backlog_peak, window.lost, window.failures, window.samples,
                  window.held_senders, window.loss_suppressed):
        assert count is None or (type(count) is int and 0 <= count <= MAX_COUNT)
    for rate in (window.lost_per_s, window.netlink_drops_per_s, window.wait_per_s,
                 window.held_for, window.lost_seconds, window.drops_seconds,
                 window.wait_seconds):
        assert rate is None or (type(rate) is float and 0 <= rate <= MAX_NUMBER)
    if window.status is not None:
        assert all(v is None or (type(v) is int and 0 <= v <= MAX_U32)
                   for v in (getattr(window.status, name) for name in STATUS_NAMES))
    if window.system is not None and window.system.auditd is not None:
        start = window.system.auditd.start_time
        assert start is None or (math.isfinite(start) and 0 <= start <= MAX_TIME)


def accounted(lines: int, windows, problems) -> None:
    """Every line is a window or skipped, never both, never neither."""
    used = [w.line_no for w in windows]
    skipped = [int(p.split(":")[0].split()[1]) for p in problems if isinstance(p, Skipped)]
    assert sorted(used + skipped) == list(range(1, lines + 1))
    noted = {int(p.split(":")[0].split()[1]) for p in problems if isinstance(p, Note)}
    assert noted <= set(used)  # a note is about a line whose window is used


# -- the reader -----------------------------------------------------------------------

@FUZZ
@given(lines=st.lists(mutated_lines(), min_size=1, max_size=6), good=valid_lines(),
       at=st.integers(0, 6))
def test_any_field_of_any_value_is_used_or_the_line_skipped(tmp_path, lines, good, at):
    lines.insert(min(at, len(lines)), good)  # one line is a window: a recording
    path = tmp_path / "fuzz.jsonl"
    write_lines(path, lines)
    items = list(iter_recording(path))  # never raises: there is a window
    windows = [i for i in items if isinstance(i, RecordedWindow)]
    problems = [i for i in items if not isinstance(i, RecordedWindow)]
    assert windows and all(isinstance(p, (Skipped, Note)) for p in problems)
    assert all("\n" not in p and p.startswith("line ") for p in problems)
    for window in windows:
        check_window(window)
    accounted(len(lines), windows, problems)
    result = read_recording(path)
    assert result.skipped == sum(isinstance(p, Skipped) for p in problems)
    assert len(result.windows) + result.skipped == len(lines)


@FUZZ
@given(lines=st.lists(mutated_lines(), min_size=1, max_size=5))
def test_only_damaged_lines_are_refused_in_one_line_or_read(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    write_lines(path, lines)
    try:
        items = list(iter_recording(path))
    except NotARecording as refused:
        message = str(refused)
        assert "\n" not in message and message.startswith(f"{path}: not an auditop recording")
        assert len(message) < 400
        return
    windows = [i for i in items if isinstance(i, RecordedWindow)]
    assert windows
    accounted(len(lines), windows, [i for i in items if isinstance(i, str)])


def _line() -> dict:
    """A fixed valid line."""
    return {"version": 2, "time": 1795329774.29,
            "status": {name: 64 if name == "backlog_limit" else 0 for name in STATUS_NAMES},
            "window": {"seconds": 1.0, "samples": 10, "failures": 0, "backlog_peak": 65,
                       "lost": 0, "lost_per_s": 0.0, "netlink_drops_per_s": 0.0,
                       "wait_per_s": 0.0}}


def full_line() -> dict:
    """A fixed valid line with every part the reader reads."""
    line = _line()
    line["window"].update(lost_seconds=1.0, drops_seconds=1.0, wait_seconds=1.0,
                          loss_causes={"backlog": 3}, loss_suppressed=0)
    line.update(held_senders=1, held_for=0.5, error=None, findings=[
        {"id": "lost-increasing", "severity": "critical", "title": "Lost",
         "detail": "...", "remedy": None}], system={
        "rmem_default": 212992, "rmem_max": 4194304, "hz": 250, "mem_total": 2 ** 34,
        "auditd": {"pid": 812, "name": "auditd", "state": "S", "start_time": 1795329000.0,
                   "netlink_rmem": 0, "netlink_drops": 0, "netlink_rcvbuf": 212992},
        "multicast_readers": [{"portid": 2147483650, "rmem": 0, "drops": 3, "rcvbuf": 1}],
        "auditd_conf": {"path": "/etc/audit/auditd.conf", "flush": "incremental_async",
                        "freq": 50, "q_depth": 2000, "active_plugins": ["af_unix"]},
        "boot": {"audit": "1", "audit_backlog_limit": 8192}, "sock_diag_error": None,
        "kernel_log_error": None})
    return line


@pytest.mark.parametrize("where", paths(full_line()), ids=lambda where: ".".join(map(str, where)))
def test_every_field_with_every_nasty_value(tmp_path, capsys, where):
    """Each place in a line, each nasty value in turn (one line each, after a
    good line): read, replayed and plotted, every line used or skipped."""
    lines = [full_line()]
    for value in NASTY + [DELETE]:
        line = full_line()
        parent = line
        for key in where[:-1]:
            parent = parent[key]
        if value is DELETE:
            del parent[where[-1]]
        else:
            parent[where[-1]] = value
        lines.append(dict(line, time=1795329774.29 + len(lines)))
    path = tmp_path / "nasty.jsonl"
    write_lines(path, lines)
    items = list(iter_recording(path))
    windows = [i for i in items if isinstance(i, RecordedWindow)]
    for window in windows:
        check_window(window)
    accounted(len(lines), windows, [i for i in items if isinstance(i, str)])
    player = ReplayPlayer(path, paused=True, clock=lambda: 0.0)
    player.open()
    player.index()
    assert player.state.known == len(windows)
    for _ in windows:
        player.step(1)
    assert player.state.position == len(windows) - 1
    player.close()
    assert plot(path, output=tmp_path / "p.txt", width=60, height=16) == 0
    assert (tmp_path / "p.txt").read_text(encoding="utf-8").strip()
    capsys.readouterr()


@pytest.mark.parametrize("where, value, why", [
    (("window", "backlog_peak"), 10 ** 400, "window.backlog_peak is not a count"),
    (("time",), 10 ** 400, "time is not a number"),
    (("time",), -1, "time is not a time"),
    (("time",), 1e300, "time is not a number"),
    (("time",), MAX_TIME + 1, "time is not a time"),
    (("status", "backlog_limit"), 10 ** 400, "status.backlog_limit is not a count"),
    (("status", "backlog_limit"), 2 ** 32, "status.backlog_limit is not a count"),
    (("window", "lost_per_s"), 10 ** 400, "window.lost_per_s is not a number"),
    (("window", "seconds"), 1e300, "window.seconds is not a number"),
    (("window", "seconds"), 1e12, "window.seconds is not a span"),
    (("window", "samples"), 2.5, "window.samples is not a count"),
    (("window", "loss_causes"), {"backlog": 10 ** 400}, "loss_causes is not counts"),
    (("version",), 10 ** 400, "format version 1000000000"),
])
def test_a_value_out_of_range_skips_its_line_with_why(tmp_path, where, value, why):
    line = _line()
    parent = line
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    path = tmp_path / "rec.jsonl"
    write_lines(path, [_line(), line, _line()])
    result = read_recording(path)
    assert [w.line_no for w in result.windows] == [1, 3] and result.skipped == 1
    (problem,) = result.problems
    assert problem.startswith("line 2: ") and why in problem and len(problem) < 200


def test_a_system_value_out_of_range_is_unknown_and_the_window_kept(tmp_path):
    line = _line()
    line["system"] = {"rmem_default": 10 ** 400, "hz": -250, "mem_total": 2 ** 64,
                      "auditd": {"pid": 812, "name": "auditd", "state": "S",
                                 "start_time": 10 ** 400, "netlink_rmem": -1,
                                 "netlink_drops": 0},
                      "multicast_readers": [{"portid": 10 ** 400, "rmem": 0, "drops": 0}]}
    path = tmp_path / "rec.jsonl"
    write_lines(path, [line])
    (window,) = read_recording(path).windows
    system = window.system
    assert (system.rmem_default, system.hz, system.mem_total) == (None, None, None)
    assert system.auditd.pid == 812 and system.auditd.start_time is None
    assert system.auditd_socket is None and system.multicast_readers == ()


# -- through `auditop plot` and the replay ------------------------------------------------

@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(mutated_lines() | valid_lines(), min_size=1, max_size=5),
       good=valid_lines())
def test_plot_draws_or_refuses_whatever_the_values(tmp_path, capsys, lines, good):
    lines.append(good)
    path = tmp_path / "fuzz.jsonl"
    write_lines(path, lines)
    out = tmp_path / "plot.txt"
    assert plot(path, output=out, width=60, height=16) == 0
    assert out.read_text(encoding="utf-8").strip()
    err = capsys.readouterr().err.splitlines()
    expected = read_recording(path)
    shown = common.PROBLEMS_SHOWN
    assert err[:shown] == [f"auditop: {path}: {p} (skipped)" for p in expected.problems[:shown]]
    if len(expected.problems) > shown:
        assert err[shown:] == [f"auditop: {path}: {len(expected.problems) - shown} more "
                               "problems; in all "
                               f"{problems_text(len(expected.problems), expected.skipped)}"]
    else:
        assert len(err) == len(expected.problems)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(mutated_lines() | valid_lines(), min_size=1, max_size=6),
       good=valid_lines(), at=st.integers(0, 6))
def test_replay_plays_every_window_whatever_the_values(tmp_path, lines, good, at):
    lines.insert(min(at, len(lines)), good)
    path = tmp_path / "fuzz.jsonl"
    write_lines(path, lines)
    expected = read_recording(path)
    player = ReplayPlayer(path, paused=True, clock=lambda: 0.0)
    notices: list[str] = []
    player.connect(lambda event: notices.append(event.text)
                   if isinstance(event, Notice) else None)
    player.open()
    player.index()
    state = player.state
    assert state.complete and state.known == len(expected.windows)
    assert player.skipped == expected.skipped
    assert state.known + player.skipped == len(lines)
    for _ in range(state.known):  # every window on screen, forward then back
        player.step(1)
        assert player.snapshot().windows
    player.jump(to_end=False)
    player.next_finding(1)
    points = player.plot_points()
    assert len(points) == player.state.position + 1
    if expected.skipped:
        assert any(f"{expected.skipped} damaged line" in n for n in notices)
    player.close()


@pytest.mark.parametrize("field", ["backlog_peak", "lost_per_s", "backlog_limit"])
@pytest.mark.parametrize("value", [0, -0.0, 5e-324, 1e-300, 1, MAX_U32, MAX_NUMBER])
def test_plot_of_each_end_of_the_range_read(tmp_path, capsys, field, value):
    """A value the reader takes, alone beside a window of 0: plotted (a
    subnormal 5e-324 lost/s once made the scale's unit 0)."""
    low, high = _line(), dict(_line(), time=1795329775.29)
    high["window"]["lost_per_s"] = low["window"]["lost_per_s"] = 0.0
    for line in (low, high):
        line["window"]["backlog_peak"] = 0
    part = high["status"] if field == "backlog_limit" else high["window"]
    top = MAX_U32 if field == "backlog_limit" else MAX_COUNT
    part[field] = value if field == "lost_per_s" else min(int(value), top)
    path = tmp_path / "rec.jsonl"
    write_lines(path, [low, high])
    assert read_recording(path).skipped == 0
    assert plot(path, output=tmp_path / "p.txt", width=60, height=16) == 0
    assert len((tmp_path / "p.txt").read_text(encoding="utf-8").splitlines()) == 16
    assert capsys.readouterr().err == ""


def test_minus_zero_is_zero(tmp_path):
    line = _line()
    line["window"]["lost_per_s"] = -0.0
    path = tmp_path / "rec.jsonl"
    write_lines(path, [line])
    (window,) = read_recording(path).windows
    assert math.copysign(1.0, window.lost_per_s) == 1.0


def test_plot_and_replay_of_a_400_digit_number(tmp_path, capsys):
    """The case measured: a 400-digit number was "internal error ...
    OverflowError" in plot and replay."""
    line = _line()
    line["window"]["backlog_peak"] = int("9" * 400)
    path = tmp_path / "rec.jsonl"
    write_lines(path, [_line(), line, dict(_line(), time=1795329775.29)])
    assert plot(path, output=tmp_path / "p.txt", width=60, height=16) == 0
    (said,) = capsys.readouterr().err.splitlines()
    assert said.startswith(f"auditop: {path}: line 2: window.backlog_peak is not a count: 999")
    assert said.endswith("... (skipped)") and len(said) < 200
    player = ReplayPlayer(path, paused=True)
    player.open()
    player.index()
    assert (player.state.known, player.skipped) == (2, 1)
    player.close()


# -- files that are no recording ----------------------------------------------------

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused_unread(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    started = time.monotonic()
    with pytest.raises(NotARecording, match="a character device, not a file"):
        list(iter_recording(device))
    assert time.monotonic() - started < 1.0


def test_a_pipe_is_read_for_a_plot_and_refused_for_a_replay(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotARecording, match="cannot replay a pipe"):
        ReplayPlayer(fifo).open()

    def feed() -> None:
        with open(fifo, "w", encoding="utf-8") as writer:
            writer.write(json.dumps(_line()) + "\n")
    thread = threading.Thread(target=feed)
    thread.start()
    (window,) = read_recording(fifo).windows
    thread.join(timeout=5)
    assert window.backlog_peak == 65


@pytest.mark.parametrize("content, why", [
    (b"\0" * (5 * 1024 * 1024), "binary data"),
    (b"a" * (5 * 1024 * 1024), "line 1 is longer than 4 MiB"),
    (b"\n" * 200_000, "no window in its first 100000 lines"),
])
def test_a_file_of_no_lines_is_refused_after_a_bounded_read(tmp_path, content, why):
    path = tmp_path / "big"
    path.write_bytes(content + content)  # twice what is read before giving up
    started = time.monotonic()
    with pytest.raises(NotARecording, match=why):
        list(iter_recording(path))
    assert time.monotonic() - started < 2.0


def test_an_endless_line_in_a_pipe_is_given_up_after_max_skip(tmp_path, monkeypatch):
    monkeypatch.setattr(recording, "MAX_LINE", 1024)
    monkeypatch.setattr(recording, "MAX_SKIP", 64 * 1024)
    read_end, write_end = os.pipe()
    stop = threading.Event()

    def endless() -> None:  # a recording, then text without a line break, forever
        os.write(write_end, (json.dumps(_line()) + "\n").encode())
        try:
            while not stop.is_set():
                os.write(write_end, b"a" * 4096)
        except BrokenPipeError:
            pass  # the reader gave up: what this test waits for
        finally:
            os.close(write_end)
    thread = threading.Thread(target=endless, daemon=True)
    thread.start()
    try:
        result = read_recording(f"/proc/self/fd/{read_end}")
    finally:
        stop.set()
        os.close(read_end)
        thread.join(timeout=5)
    assert len(result.windows) == 1 and result.skipped == 1
    assert result.problems == ("line 2: longer than 65536 bytes: the rest of the stream is "
                               "not read",)


def test_an_overlong_line_in_a_pipe_then_more_windows(tmp_path, monkeypatch):
    monkeypatch.setattr(recording, "MAX_LINE", 1024)
    path = tmp_path / "rec.jsonl"
    path.write_text(json.dumps(_line()) + "\n" + "x" * 5000 + "\n" + json.dumps(_line())
                    + "\n", encoding="utf-8")
    with open(path, "rb") as source:
        read_end, write_end = os.pipe()
        thread = threading.Thread(target=lambda: (os.write(write_end, source.read()),
                                                  os.close(write_end)))
        thread.start()
        try:
            result = read_recording(f"/proc/self/fd/{read_end}")
        finally:
            thread.join(timeout=5)
            os.close(read_end)
    assert [w.line_no for w in result.windows] == [1, 3] and result.skipped == 1
    assert result.problems == ("line 2: longer than 1024 bytes",)


def test_a_span_too_short_for_its_samples_gives_no_rate(tmp_path):
    """samples / seconds overflows to infinity: the replay shows no rate
    rather than failing on it."""
    line = _line()
    line["window"].update(seconds=5e-324, samples=MAX_COUNT, failures=MAX_COUNT)
    path = tmp_path / "rec.jsonl"
    write_lines(path, [dict(line, time=1795329774.0 + i) for i in range(3)])
    player = ReplayPlayer(path, paused=True)
    player.open()
    player.index()
    player.step(2)
    snapshot = player.snapshot()
    assert len(snapshot.windows) == 3 and snapshot.sample_rate == 0
    player.close()
