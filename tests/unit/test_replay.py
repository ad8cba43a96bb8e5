"""The replay player: recorded windows back as the Monitor's Snapshots,
stepping, finding the next incident, pace and speed, a 24 h file in flat
memory. A hand-stepped clock makes the pace exact."""

from __future__ import annotations

import copy
import json
import threading
import time
import tracemalloc

import pytest

from auditop.core.feed import Notice, Snapshot
from auditop.core.monitor import WINDOWS_KEPT
from auditop.core.timespec import BadRange, Stretch, parse
from auditop.sources.recording import NotARecording, read_recording
from auditop.sources.replay import MAX_PAUSE, SPEEDS, ReplayPlayer, as_window

from tests.unit.test_recording import FINDING, STATUS, V1, v2
from tests.clock import Clock

T0 = 1_795_329_000.0
QUIET = {"id": "backlog-limit-small", "severity": "warning", "title": "Backlog limit is small",
         "detail": "...", "remedy": "auditctl -b 8192"}
NOTE = {"id": "auditd-enriched", "severity": "info", "title": "auditd enriches every record",
        "detail": "...", "remedy": None}


def line(n: int, *, lost_per_s: float = 0.0, peak: int = 3, findings=(QUIET, NOTE),
         status: dict | None = STATUS, seconds: float = 1.0, at: float | None = None) -> dict:
    """Window n of a recording: version 2, one a second from T0."""
    out = v2(time=at if at is not None else T0 + n, findings=list(findings),
             status=None if status is None else dict(status, lost=1000 * n))
    out["window"].update(seconds=seconds, backlog_peak=peak, lost_per_s=lost_per_s,
                         lost=int(lost_per_s))
    return out


def incident(n: int) -> dict:
    return line(n, lost_per_s=412000.0, peak=65, findings=(FINDING, QUIET, NOTE))


def recording(tmp_path, lines, name="rec.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(item) + "\n" if isinstance(item, dict) else item
                            for item in lines))
    return path


@pytest.fixture
def story(tmp_path):
    """20 quiet windows, an incident in 20-24, quiet again, a second in 40-41."""
    lines = [incident(n) if 20 <= n < 25 or 40 <= n < 42 else line(n) for n in range(50)]
    return recording(tmp_path, lines)


def opened(path, **kwargs) -> tuple[ReplayPlayer, Clock, list[str]]:
    clock = Clock(100.0)
    player = ReplayPlayer(path, clock=clock, **kwargs)
    notices: list[str] = []
    player.connect(lambda event: notices.append(event.text)
                   if isinstance(event, Notice) else None)
    player.open()
    return player, clock, notices


def shown(player) -> int:
    return player.state.position


def test_open_shows_the_first_window_before_reading_the_rest(story):
    player, _, _ = opened(story)
    assert shown(player) == 0 and player.state.known == 1 and not player.state.complete
    snapshot = player.snapshot()
    assert snapshot.latest.time == T0 and snapshot.status.lost == 0
    assert [f.id for f in snapshot.findings] == ["backlog-limit-small", "auditd-enriched"]
    player.index()
    assert player.state.known == 50 and player.state.complete
    assert player.state.read_fraction == 1.0


def test_a_window_comes_back_as_the_monitor_would_have_made_it():
    line = v2()
    line["window"].update(loss_causes={"backlog-limit": 3}, loss_suppressed=7)
    recorded = read_recording_one(line)
    window = as_window(recorded)
    assert (window.end, window.seconds, window.backlog_peak) == (V1["time"], 1.0, 65)
    assert (window.lost, window.lost_per_s, window.netlink_drops_per_s) == (412000, 412000.0, 35.0)
    assert (window.held_senders, window.held_for) == (1, 1.5)
    assert (window.lost_seconds, window.drops_seconds, window.wait_seconds) == (1.0, 0.5, 1.0)
    assert window.status == recorded.status and window.system == recorded.system
    assert window.loss_causes == (("backlog-limit", 3),) and window.loss_suppressed == 7
    assert window.last.loss_causes == window.loss_causes
    assert window.last.status == recorded.status and window.last.time == V1["time"]
    old = as_window(read_recording_one(V1))  # version 1: spans are the window's
    assert (old.lost_seconds, old.drops_seconds, old.held_senders) == (1.0, 1.0, 0)


def read_recording_one(obj, tmp_path_factory=None):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.jsonl"
        path.write_text(json.dumps(obj) + "\n")
        return read_recording(path).windows[0]


def test_stepping_forward_and_back_keeps_the_charts_windows(story):
    player, _, notices = opened(story)
    player.index()
    player.step(1)
    player.step(1)
    assert shown(player) == 2 and player.state.paused
    assert [w.end for w in player.snapshot().windows] == [T0, T0 + 1, T0 + 2]
    player.step(-1)
    assert shown(player) == 1 and player.snapshot().latest.time == T0 + 1
    player.step(-5)
    assert shown(player) == 0 and notices[-1] == "the first window of the recording"
    player.step(100)
    assert shown(player) == 49 and notices[-1] == "the last window of the recording"
    assert len(player.snapshot().windows) == 50
    assert player.state.at_end


def test_the_snapshot_carries_the_window_as_recorded(story):
    player, _, _ = opened(story)
    player.index()
    player.step(21)
    snapshot = player.snapshot()
    assert snapshot.window.backlog_peak == 65 and snapshot.window.lost_per_s == 412000.0
    assert snapshot.status.lost == 21000
    assert [f.id for f in snapshot.findings] == ["lost-increasing", "backlog-limit-small",
                                                 "auditd-enriched"]
    assert snapshot.found.lost == 0  # the first status recorded: what auditop found
    assert snapshot.interval == 1.0 and snapshot.sample_rate == 10
    assert snapshot.silent_for == 0.0 and snapshot.held_senders == 1


def test_next_and_previous_finding_land_where_a_warning_begins(story):
    player, _, notices = opened(story)
    player.index()
    player.next_finding()  # window 0 already has its warning: the next one that begins
    assert shown(player) == 20 and notices[-1] == "window 21: Audit records are being lost"
    player.next_finding()
    assert shown(player) == 40
    player.next_finding()
    assert shown(player) == 40
    assert notices[-1] == "no warning or critical finding begins after this window"
    player.next_finding(-1)
    assert shown(player) == 20
    player.next_finding(-1)
    assert shown(player) == 0  # the window the recording starts with a warning
    assert player.state.paused


def test_next_finding_says_when_the_file_is_not_read_to_the_end(story):
    player, _, notices = opened(story)
    player.index(limit=10)
    player.next_finding()
    assert shown(player) == 0
    assert notices[-1].endswith("(in the part read so far)")


def test_it_plays_at_the_recordings_pace_times_the_speed(story):
    player, clock, _ = opened(story)
    player.index()
    clock.now += 0.99
    assert player.tick() == 0
    clock.now += 0.02
    assert player.tick() == 1 and shown(player) == 1
    player.faster()
    assert player.state.speed == 2.0
    clock.now += 1.0  # the wait under way is halved, then every window takes 0.5 s
    assert player.tick() == 2 and shown(player) == 3
    player.slower()
    player.slower()
    assert player.state.speed == 0.5
    clock.now += 1.9
    assert player.tick() == 0
    clock.now += 0.2
    assert player.tick() == 1


def test_speed_steps_stop_at_the_ends(story):
    player, _, notices = opened(story, speed=SPEEDS[-2])
    player.faster()
    player.faster()
    assert player.state.speed == SPEEDS[-1]
    assert notices[-1].startswith(f"speed is already {SPEEDS[-1]:g}x, the fastest")
    player._set_speed(0.3)
    player.slower()
    player.slower()
    assert player.state.speed == SPEEDS[0]


def test_a_fast_replay_shows_many_windows_per_tick_and_stops_at_the_end(story):
    player, clock, _ = opened(story, speed=1000.0)
    player.index()
    clock.now += 0.0205
    assert player.tick() == 20
    clock.now += 1.0
    player.tick()
    assert shown(player) == 49 and player.state.paused and player.state.at_end
    player.toggle_pause()  # at the end: play again from the start
    assert shown(player) == 0 and not player.state.paused


def test_pause_holds_the_window(story):
    player, clock, _ = opened(story)
    player.index()
    player.toggle_pause()
    clock.now += 30
    assert player.tick() == 0 and shown(player) == 0
    player.toggle_pause()
    clock.now += 1.01
    assert player.tick() == 1


def test_a_gap_in_the_recording_is_not_waited_out(tmp_path):
    path = recording(tmp_path, [line(0), line(1), line(2, at=T0 + 3600),
                                line(3, at=T0 + 3601)])
    player, clock, _ = opened(path)
    player.index()
    clock.now += 1.01
    assert player.tick() == 1 and shown(player) == 1
    clock.now += MAX_PAUSE - 0.1
    assert player.tick() == 0
    clock.now += 0.2
    assert player.tick() == 1 and shown(player) == 2


def test_jumps_to_start_and_end_and_back_reread_what_the_charts_show(story):
    player, _, _ = opened(story)
    player.index()
    player.jump(True)
    assert shown(player) == 49 and len(player.snapshot().windows) == 50
    player.jump(False)
    assert shown(player) == 0 and [w.end for w in player.snapshot().windows] == [T0]


# -- a stretch (--from / --to), a jump to a time, a search of the findings -------------

# `utc` (tests/conftest.py) pins the zone: T0 is 2026-11-22 06:30:00 UTC.


def test_a_stretch_is_all_the_replay_holds(story, utc):
    """--from 06:30:10 --to +30s: the story starts 06:29:59 (its first window
    closes at T0 = 06:30:00), so windows 10 to 29; both times were known to
    be in the recording before the first frame."""
    stretch = Stretch(parse("06:30:10"), parse("+30s"))
    player, _, _ = opened(story, stretch=stretch)
    assert player.state.complete and player.state.known == 20
    assert player.snapshot().latest.time == T0 + 10  # it starts at --from
    assert player.span() == (T0 + 9, T0 + 29)
    player.jump(True)
    assert player.snapshot().latest.time == T0 + 29  # and ends at --to
    assert [point[0] for point in player.plot_points()] == [T0 + n for n in range(10, 30)]
    player.jump(False)
    player.next_finding()
    assert player.snapshot().latest.time == T0 + 20  # the incident, where it begins


def test_from_alone_reads_only_up_to_it_before_the_first_frame(tmp_path, utc):
    path = recording(tmp_path, ["not json\n"] + [line(n) for n in range(50)])
    player, _, _ = opened(path, stretch=Stretch(parse("+10")))  # 06:29:59 + 10 s
    assert player.state.known == 1 and not player.state.complete
    assert player.snapshot().latest.time == T0 + 9
    player.index()
    assert player.state.known == 41
    assert player.problems == (0, [])  # the damaged line lies before the stretch


@pytest.mark.parametrize("start, end, says", [
    ("07:00", None, "--from 07:00 is outside the recording: 2026-11-22 06:29:59 to 06:30:49"),
    (None, "+2m", "--to +2m is outside the recording: 2026-11-22 06:29:59 to 06:30:49"),
    ("+20", "+10", "--to +10 is not after --from +20"),
])
def test_a_time_outside_the_recording_is_refused_at_open(story, utc, start, end, says):
    player = ReplayPlayer(story, stretch=Stretch(start and parse(start), end and parse(end)))
    with pytest.raises(BadRange) as refused:
        player.open()
    assert str(refused.value) == says


def test_a_jump_to_a_time_lands_on_the_window_that_covers_it(story, utc):
    player, _, notices = opened(story, paused=False)
    player.index()
    player.goto(parse("06:30:20"))
    assert shown(player) == 20 and player.state.paused
    player.goto(parse("06:30:20.5"))  # inside the window that closes at 06:30:21
    assert shown(player) == 21
    player.goto(parse("+5s"))  # 06:30:04: offsets count from the start, as --from's
    assert shown(player) == 4
    player.goto(parse("2026-11-22T06:30:49"))
    assert shown(player) == 49
    player.goto(parse("07:00"))
    assert shown(player) == 49
    assert notices[-1] == "07:00 is outside the recording: 2026-11-22 06:29:59 to 06:30:49"


def test_a_jump_past_the_part_read_says_so(story, utc):
    player, _, notices = opened(story)
    player.index(limit=10)
    player.goto(parse("06:30:30"))
    assert shown(player) == 0
    assert notices[-1].startswith("06:30:30 is outside the part read so far: ")


def test_a_jump_in_a_stretch_counts_offsets_from_the_recordings_start(story, utc):
    player, _, notices = opened(story, stretch=Stretch(parse("+20")))  # from 06:30:19
    player.index()
    player.goto(parse("+25"))  # 06:30:24, window 24 of the file: the stretch's sixth
    assert player.snapshot().latest.time == T0 + 24 and shown(player) == 5
    player.goto(parse("+5"))
    assert notices[-1] == ("+5 is outside the replay's --from / --to: 2026-11-22 06:30:18 "
                           "to 06:30:49")


def test_a_search_finds_where_a_matching_finding_begins_and_wraps_around(story, utc):
    player, _, notices = opened(story)
    player.index()
    player.search("LOST")  # any case, in a title
    assert shown(player) == 20 and player.state.paused
    assert notices[-1] == "window 21, 06:30:20: Audit records are being lost"
    player.search("lost")  # the next place it begins, not the next window that has it
    assert shown(player) == 40
    player.search("lost-increasing")  # an id; past the last: from the start again
    assert shown(player) == 20 and notices[-1].endswith("(from the start again)")
    player.search("warning small")  # every word, in one finding (severity and title)
    assert shown(player) == 0 and notices[-1] == ("window 1, 06:30:00: Backlog limit is "
                                                  "small (from the start again)")
    for nothing in ("lost small", "zzz"):
        player.search(nothing)
        assert shown(player) == 0 and notices[-1] == f'no window matches "{nothing}"'


def test_a_search_says_when_the_file_is_not_read_to_the_end(story, utc):
    player, _, notices = opened(story)
    player.index(limit=10)
    player.search("lost")
    assert notices[-1] == 'no window matches "lost" (in the part read so far)'


def test_silent_windows_replay_as_silence(tmp_path):
    silent = line(3, status=None, peak=None)
    silent["window"].update(samples=0, failures=10)
    silent["error"] = "no answer from the kernel for 1.0 s"
    path = recording(tmp_path, [line(0), line(1), line(2), silent,
                                dict(copy.deepcopy(silent), time=T0 + 4), line(5)])
    player, _, _ = opened(path)
    player.index()
    player.step(4)
    snapshot = player.snapshot()
    assert snapshot.silent_for == 2.0 and snapshot.status.lost == 2000
    assert snapshot.silent_error == "no answer from the kernel for 1.0 s"
    player.step(1)
    assert player.snapshot().silent_for == 0.0


def test_damaged_lines_are_counted_skipped_and_said(tmp_path):
    path = recording(tmp_path, [line(0), "not json\n", line(1), '{"window": 3}\n', line(2),
                                '{"version": 2, "time": 1'])
    player, _, notices = opened(path)
    player.index()
    assert player.state.known == 3
    count, first = player.problems
    assert count == 3 and first[0].startswith("line 2: not JSON")
    assert notices[-1] == f"3 damaged lines skipped (first: {first[0]})"
    assert player.state.problems == 3


def test_not_a_recording_is_refused_at_open(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    with pytest.raises(NotARecording, match="not an auditop recording"):
        ReplayPlayer(path).open()
    with pytest.raises(NotARecording, match="missing.jsonl: cannot read it"):
        ReplayPlayer(tmp_path / "missing.jsonl").open()


def test_plot_points_are_the_history_up_to_the_window_shown(story):
    player, _, _ = opened(story)
    player.index()
    player.step(22)
    points = player.plot_points()
    assert len(points) == 23
    assert points[20] == (T0 + 20, 65, 412000.0, 64) and points[0] == (T0, 3, 0.0, 64)


def test_running_on_threads_posts_snapshots_and_stops(story):
    player = ReplayPlayer(story, speed=100.0)
    posted, done = [], threading.Event()

    def take(event):
        assert isinstance(event, Snapshot), event  # no notice, no failure
        posted.append(event)
        if player.state.at_end:
            done.set()
    player.connect(take)
    player.open()
    player.start()
    try:
        assert done.wait(10), player.state
        assert posted[-1].latest.time == T0 + 49
        assert [s.seq for s in posted] == sorted(s.seq for s in posted)
    finally:
        player.close()
    assert not any(t.is_alive() for t in player._threads)


def long_recording(path, windows: int):
    quiet = json.dumps(line(0))
    loud = json.dumps(incident(0))
    with path.open("w") as out:
        for n in range(windows):
            text = loud if n % 3600 == 1800 else quiet
            out.write(text.replace(f'"time": {T0}', f'"time": {T0 + n}', 1) + "\n")
    return path


def test_a_day_of_windows_opens_at_once(tmp_path):
    """86 400 one-second windows: the first frame needs one line read."""
    path = long_recording(tmp_path / "day.jsonl", 86_400)
    started = time.perf_counter()
    player = ReplayPlayer(path)
    player.open()
    assert time.perf_counter() - started < 0.5
    assert player.state.known == 1 and player.snapshot().latest.time == T0
    player.close()


def traced_peak(path) -> int:
    """Peak memory allocated while indexing `path` and jumping around it."""
    player = ReplayPlayer(path)
    player.open()
    tracemalloc.start()
    player.index()
    player.next_finding()
    assert player.state.position == 1800
    player.jump(True)
    assert len(player.snapshot().windows) == WINDOWS_KEPT
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    player.close()
    return peak


def test_memory_stays_flat_as_the_recording_grows(tmp_path):
    """Four times the windows cost the index's arrays (tens of bytes a
    window), not the windows (kilobytes each): the 600 on screen are all the
    player holds."""
    short = traced_peak(long_recording(tmp_path / "short.jsonl", 2_000))
    longer = traced_peak(long_recording(tmp_path / "long.jsonl", 8_000))
    assert longer - short < 100 * 6_000, (short, longer)  # < 100 bytes per extra window
    assert longer < 8 * 1024 * 1024, longer


def test_the_title_rate_of_a_10_hz_recording_is_10_hz():
    """Before: the median of polls per second over windows said 11 Hz when
    the first window (nine intervals in 0.9 s) weighed in."""
    from auditop.core.history import History
    from auditop.sources.replay_index import replay_snapshot
    from tests.unit.builders import feed, make_sample
    history = History(interval=1.0)
    windows = feed(history, [make_sample(i / 10) for i in range(21)])
    assert [round(w.seconds, 6) for w in windows] == [0.9, 1.0]
    first = replay_snapshot(1, [(windows[0], ())], None)  # the replay's first frame
    assert (first.sample_rate, first.interval) == (10, 1.0)
    both = replay_snapshot(2, [(w, ()) for w in windows], None)
    assert (both.sample_rate, both.interval) == (10, 1.0)
