"""`auditop replay` in the TUI (Pilot): the same panes over a recording, its
own timestamps, the replay's keys, kernel changes unavailable, the chart."""

from __future__ import annotations

import json

import pytest

from auditop.sources.replay import ReplayPlayer
from auditop.tui.app import AuditopApp
from auditop.tui.screens.confirm import ConfirmScreen
from auditop.tui.screens.help import HelpScreen
from auditop.tui.screens.plot import PlotScreen
from auditop.tui.widgets.charts import Charts
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.widgets.summary import Summary, TitleBar
from tests.screenshots import recording

from .conftest import text


@pytest.fixture
def overflow(tmp_path):
    """60 s of the scripted overflow: floods from the fifth second on."""
    return recording(tmp_path / "overflow.jsonl")


def replay_app(path, **kwargs) -> AuditopApp:
    player = ReplayPlayer(path, paused=True, **kwargs)
    player.open()
    player.index()
    return AuditopApp(player=player, autostart=False)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_the_screen_shows_the_recorded_window(overflow):
    recorded = lines(overflow)
    app = replay_app(overflow)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        title = text(app.query_one(TitleBar))
        assert "2023-11-14  22:13:21  " in title  # the recording's time, UTC
        assert "window 1 s @ 10 Hz  1/59 at 1x" in title  # its real rate (said 11 Hz)
        assert "replay: no kernel changes" in title and "PAUSED" in title
        await pilot.press("n")  # to the first window where a warning begins
        await pilot.pause()
        at = app.player.state.position
        line = recorded[at]
        summary = text(app.query_one(Summary))
        assert f"peak {line['window']['backlog_peak']} " in summary
        assert f"LOST {line['status']['lost']} " in summary
        shown = [f.title for f in app.query_one(FindingsList).findings]
        assert shown == [f["title"] for f in line["findings"]]  # as recorded, in order
        assert "now 1025" in text(app.query_one(Charts))


async def test_step_keys_move_one_window_and_pause(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert app.player.state.position == 3
        assert "4/59" in text(app.query_one(TitleBar))
        await pilot.press("left")
        await pilot.pause()
        assert app.player.state.position == 2 and app.player.state.paused
        await pilot.press("shift+right")
        await pilot.pause()
        assert app.player.state.position == 58 and "END" in text(app.query_one(TitleBar))
        await pilot.press("shift+left")
        await pilot.pause()
        assert app.player.state.position == 0


async def test_next_and_previous_finding_and_speed_keys(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        first = app.player.state.position
        assert first > 0
        await pilot.press("N")
        await pilot.pause()
        assert app.player.state.position < first
        await pilot.press("greater_than_sign", "greater_than_sign")
        await pilot.pause()
        assert app.player.state.speed == 5.0
        assert "at 5x" in text(app.query_one(TitleBar))
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert app.player.state.speed == 2.0


async def test_p_pauses_the_replay_itself(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert not app.player.state.paused
        assert "PAUSED" not in text(app.query_one(TitleBar))
        await pilot.press("p")
        await pilot.pause()
        assert app.player.state.paused and "PAUSED" in text(app.query_one(TitleBar))


async def test_kernel_changes_are_unavailable(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("plus", "minus", "b", "u"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen), key
        active = {b.id: enabled for _, b, enabled, _ in app.screen.active_bindings.values()}
        # a replay has no change keys at all: none shown, none in the help
        assert not {"double", "halve", "exact", "restore", "auditd-state"} & set(active)
        assert "interval.shorter" not in active  # recorded windows: no other interval
        assert "demo.flood" not in active
        assert app.source is None and app.monitor is None


async def test_help_lists_the_replay_keys_only(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-text").render().plain
        assert "replay: one window forward" in body and "replay: faster" in body
        assert "demo:" not in body and "shorter display interval" not in body
        # keys that cannot apply to a recording are not offered (before: + - b u, i)
        assert "backlog_limit" not in body and "ask auditd" not in body
        mode_keys = app.query_one("#mode-keys").render().plain
        assert "→ forward" in mode_keys and "n next finding" in mode_keys


async def test_g_opens_the_chart_of_the_history_so_far(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("shift+right", "g")
        await pilot.pause()
        assert isinstance(app.screen, PlotScreen)
        chart = app.screen.query_one("#plot-text").render().plain
        assert "backlog peak vs limit, 2023-11-14 22:13:21 to 22:14:19" in chart
        assert "records lost per second" in chart and "1k" in chart
        await pilot.press("escape")
        assert not isinstance(app.screen, PlotScreen)
        await pilot.press("g")
        assert isinstance(app.screen, PlotScreen)
        await pilot.press("g")
        assert not isinstance(app.screen, PlotScreen)


async def test_damaged_lines_are_a_notice(tmp_path, overflow):
    damaged = tmp_path / "damaged.jsonl"
    good = overflow.read_text().splitlines()
    damaged.write_text("\n".join(good[:3] + ["{not json", "[]"] + good[3:]) + "\n")
    player = ReplayPlayer(damaged, paused=True)
    player.open()
    app = AuditopApp(player=player, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        player.index()  # as the indexer thread does, after the first frame
        await pilot.pause()
        notices = [n.message for n in app._notifications]
        assert any(n.startswith("2 damaged lines skipped (first: line 4: not JSON")
                   for n in notices), notices
        assert player.state.known == 59
