"""A replay of a recording whose every value is at an end of the range the
reader accepts (recording.py: counts to 2^53, status fields to 2^32 - 1,
rates to 2^53, times from 0 to the year 9999, spans from the smallest float
up): the screen, the steps and the chart draw it without an error (issue 14)."""

from __future__ import annotations

import json

from auditop.sources.recording import MAX_COUNT, MAX_NUMBER, MAX_TIME, MAX_U32
from auditop.sources.replay import ReplayPlayer
from auditop.tui.app import AuditopApp
from auditop.tui.screens.plot import PlotScreen
from auditop.tui.widgets.summary import Summary, TitleBar

from .conftest import text

STATUS = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost", "backlog",
          "feature_bitmap", "backlog_wait_time", "backlog_wait_time_actual")


def extreme(time: float, seconds: float, top: bool) -> dict:
    count, u32, rate = (MAX_COUNT, MAX_U32, MAX_NUMBER) if top else (0, 0, 5e-324)
    return {
        "version": 2, "time": time, "held_senders": count, "held_for": rate,
        "status": dict.fromkeys(STATUS, u32),
        "system": {"rmem_default": count, "rmem_max": count, "hz": 1 if top else 0,
                   "mem_total": count,
                   "auditd": {"pid": count, "name": "a" * 300, "state": "[b]x[/b]",
                              "start_time": MAX_TIME if top else 0,
                              "netlink_rmem": count, "netlink_drops": count}},
        "findings": [{"id": "x" * 100, "severity": "critical", "title": "[red]t[/]",
                      "detail": "[/]", "remedy": None}],
        "error": "e" * 500 if top else "",
        "window": {"seconds": seconds, "samples": count, "failures": count,
                   "backlog_peak": count, "lost": count, "lost_per_s": rate,
                   "netlink_drops_per_s": rate, "wait_per_s": rate, "lost_seconds": seconds,
                   "drops_seconds": seconds, "wait_seconds": seconds,
                   "loss_causes": {"backlog": count, "?" * 50: count},
                   "loss_suppressed": count}}


async def test_a_replay_of_extreme_values_draws(tmp_path):
    lines = [extreme(0.0, 5e-324, False), extreme(0.0, MAX_TIME, True),
             extreme(MAX_TIME, 5e-324, True), extreme(MAX_TIME, 0.0, False),
             extreme(1.0, 1.0, True)]
    path = tmp_path / "extreme.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    player = ReplayPlayer(path, paused=True)
    player.open()
    player.index()
    assert (player.state.known, player.skipped) == (5, 0)  # every value is in range
    app = AuditopApp(player=player, autostart=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "1970-01-01" in text(app.query_one(TitleBar))
        for at in range(1, 5):
            await pilot.press("right")
            await pilot.pause()
            assert app.player.state.position == at
            assert text(app.query_one(Summary))
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, PlotScreen)
        await pilot.press("escape")
        await pilot.press("left")
        await pilot.pause()
        assert app.player.state.position == 3 and app.return_code is None
