"""A real stall, recorded, replayed and plotted: the replay's screen shows
the numbers the recording holds (backlog peak, lost, the findings as
recorded), `n` finds the stall, and `auditop plot` draws the same story
(the losses during the stall, nowhere else)."""

from __future__ import annotations

import subprocess
import sys
import time

from auditop.core.text import clock_text, rate_text
from auditop.sources.replay import ONSET, ReplayPlayer
from auditop.tui.app import AuditopApp
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.widgets.summary import Summary, TitleBar
from tests.scenarios.lab import LAB_BACKLOG_LIMIT, between, ids

FLOOD_S = 3.0
MARKS = set("─┌┐└┘│")  # the steps export/plot.py draws, right of the y axis


def record_a_stall(lab):
    recording = lab.record(9.0)
    recording.wait_for_windows(1)  # a healthy window first
    lab.stop_auditd()
    stopped_at = time.time()
    lab.results(lab.flood(FLOOD_S, processes=2), timeout=FLOOD_S + 10)
    flood_end = time.time()
    lab.resume_auditd()
    lab.wait_for(lambda s: s["backlog"] == 0, timeout=5)
    recording.finish(timeout=20)
    assert recording.returncode == 0, recording.stderr
    return recording, stopped_at, flood_end


def first_onset(lines):
    """The first window where a warning or critical finding begins (the
    replay's `n` from the first window)."""
    before = {f["id"] for f in lines[0]["findings"] if f["severity"] in ONSET}
    for index, line in enumerate(lines[1:], 1):
        now = {f["id"] for f in line["findings"] if f["severity"] in ONSET}
        if now - before:
            return index
        before = now
    raise AssertionError("no finding begins in the recording")


async def test_a_recorded_stall_replays_with_the_files_numbers(lab, tmp_path):
    recording, stopped_at, flood_end = record_a_stall(lab)
    lines = recording.windows
    stalled = between(lines, stopped_at + 0.5, flood_end)
    assert stalled and all(line["window"]["lost_per_s"] > 0 for line in stalled)
    worst = max(range(len(lines)), key=lambda i: lines[i]["window"]["lost_per_s"] or 0)
    onset = first_onset(lines)
    assert {"auditd-stopped", "lost-increasing"} & ids(lines[onset])

    player = ReplayPlayer(recording.path, paused=True)
    player.open()
    player.index()
    app = AuditopApp(player=player, autostart=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert player.state.position == onset
        await pilot.press("shift+left", *["right"] * worst)
        await pilot.pause()
        assert player.state.position == worst
        line = lines[worst]
        window, status = line["window"], line["status"]
        title = app.query_one(TitleBar).render().plain
        assert clock_text(line["time"]) in title and "replay: no kernel changes" in title
        summary = app.query_one(Summary).render().plain
        assert window["backlog_peak"] >= LAB_BACKLOG_LIMIT
        assert f"peak {window['backlog_peak']} " in summary
        assert f"LOST {status['lost']} (+{rate_text(window['lost_per_s'])})" in summary
        assert "STOPPED" in summary or line["system"]["auditd"]["state"] != "T"
        drops = line["system"]["auditd"]["netlink_drops"]
        assert f"drops {drops} ({rate_text(window['netlink_drops_per_s'])})" in summary
        shown = [f.title for f in app.query_one(FindingsList).findings]
        assert shown == [f["title"] for f in line["findings"]]
        await pilot.press("shift+right")
        await pilot.pause()
        last = app.query_one(Summary).render().plain
        assert f"lost {lines[-1]['status']['lost']} (+0/s)" in last
    player.close()

    # The plot of the same file: the losses stand where the stall was.
    chart = tmp_path / "stall.txt"
    result = subprocess.run([sys.executable, "-m", "auditop", "plot", str(recording.path),
                             "--output", str(chart), "--width", "100", "--height", "30"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    text = chart.read_text().splitlines()
    start, end = lines[0]["time"], lines[-1]["time"]
    assert clock_text(start) in text[0] and clock_text(end) in text[0]
    lost_panel = text[text.index(next(l for l in text if "records lost per second" in l)):]
    axis = next(l for l in lost_panel if l.lstrip().startswith("└"))
    zero = next(l for l in lost_panel if l.lstrip().startswith("0┤"))
    left, right = zero.index("┤") + 1, len(axis.rstrip()) - 1  # the plot area's columns

    def time_at(column: int) -> float:
        return start + (column - left) / (right - left) * (end - start)

    def drawn(line: str) -> list[int]:
        return [i for i, ch in enumerate(line) if i >= left and ch in MARKS]
    rows = lost_panel[1:lost_panel.index(axis)]
    top = next(l for l in rows if drawn(l))  # the highest losses drawn
    columns = [i for i in drawn(top) if top[i] != "│"]
    assert columns
    for column in columns:  # a window's width of slack on either side
        assert stopped_at - 1.5 <= time_at(column) <= flood_end + 1.5, (column, top)
    assert any(time_at(i) > flood_end + 1.5 for i in drawn(zero)), \
        zero  # after the stall the losses are drawn at zero
    peak_panel = text[:text.index(lost_panel[0])]
    assert any("backlog_limit" in line for line in peak_panel)
