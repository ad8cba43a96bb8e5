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


# -- j: jump to a time; /: find a finding; .: find again -------------------------------

def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_j_asks_for_a_time_and_jumps_there(overflow):
    """The recording runs 22:13:20 to 22:14:19 (UTC); the dialog takes what
    --from takes, refuses the rest as it is typed, and says when a time is
    outside the recording."""
    from auditop.tui.screens.ask import AskScreen
    app = replay_app(overflow)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("j")
        assert isinstance(app.screen, AskScreen)
        prompt = text(app.screen.query_one("#ask-prompt"))
        assert "it runs 2023-11-14 22:13:20 to 22:14:19" in prompt and "+5m" in prompt
        await pilot.press(*"22:13:4", "enter")  # not a time yet: the dialog stays
        assert isinstance(app.screen, AskScreen)
        assert text(app.screen.query_one("#ask-error")).startswith("not a time: '22:13:4'")
        await pilot.press("0", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, AskScreen)
        assert app.player.state.position == 19 and app.player.state.paused
        assert "22:13:40  20/59" in text(app.query_one(TitleBar))
        # an offset from the start, 22:13:20.1: 22:13:50.1, in the window closing at :51
        await pilot.press("j", *"+30s", "enter")
        await pilot.pause()
        assert app.player.state.position == 30
        await pilot.press("j", *"23:00", "enter")
        await pilot.pause()
        assert app.player.state.position == 30
        assert notices(app)[-1] == ("23:00 is outside the recording: 2023-11-14 22:13:20 "
                                    "to 22:14:19")
        await pilot.press("j", "escape")  # Esc: nothing happens
        await pilot.pause()
        assert not isinstance(app.screen, AskScreen) and app.player.state.position == 30


async def test_slash_finds_a_finding_and_dot_finds_it_again(overflow):
    from auditop.tui.screens.ask import AskScreen
    recorded = lines(overflow)
    app = replay_app(overflow)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("semicolon")  # nothing searched yet: it asks
        assert isinstance(app.screen, AskScreen)
        await pilot.press("enter")  # nothing typed: refused
        assert text(app.screen.query_one("#ask-error")) == "type a word or a finding id"
        await pilot.press(*"waiting", "enter")
        await pilot.pause()
        at = app.player.state.position
        assert at > 0 and "Processes are waiting for audit" in [
            f["title"] for f in recorded[at]["findings"]]
        assert not any("waiting" in f["title"] for f in recorded[at - 1]["findings"])
        assert notices(app)[-1] == (f"window {at + 1}, {recorded_clock(recorded[at])}: "
                                    "Processes are waiting for audit")
        await pilot.press("semicolon")  # the same again: one stretch, so from the start
        await pilot.pause()
        assert app.player.state.position == at
        assert notices(app)[-1].endswith("(from the start again)")
        await pilot.press("slash")
        assert app.screen.query_one("#ask-input").value == "waiting"  # the last search,
        await pilot.press(*"zzz", "enter")  # selected: what is typed replaces it
        await pilot.pause()
        assert notices(app)[-1] == 'no window matches "zzz"'
        assert app.player.state.position == at


def recorded_clock(line: dict) -> str:
    import time
    return time.strftime("%H:%M:%S", time.gmtime(line["time"]))


async def test_the_jump_and_find_keys_are_in_the_mode_line_and_the_help(overflow):
    app = replay_app(overflow)
    async with app.run_test(size=(100, 40)) as pilot:
        mode_keys = app.query_one("#mode-keys").render().plain
        assert "j jump" in mode_keys and "/ find" in mode_keys and "; again" in mode_keys
        await pilot.press("question_mark")
        body = app.screen.query_one("#help-text").render().plain
        assert "replay: jump to a time" in body and "replay: find the next window" in body
