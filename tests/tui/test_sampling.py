"""The app on a running Monitor: snapshots arrive as messages, the screen
changes once per window, a kernel that holds the poller or throttles its
senders is reported at once, and every key keeps working."""

from __future__ import annotations

import time

from auditop.sources.scripted import ScriptedSource, auditd_stopped, healthy
from auditop.tui.app import AuditopApp
from auditop.tui.screens.confirm import ConfirmScreen
from auditop.tui.screens.help import HelpScreen
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.widgets.summary import Banner, Summary, TitleBar

from .conftest import text
from tests.pilot import wait_for


def live_app(source, **kwargs):
    return AuditopApp(source=source, interval=0.5, sample_rate=40, **kwargs)


async def test_samples_flow_into_windows_and_the_screen(tmp_path):
    source = ScriptedSource(healthy())
    app = live_app(source, change_log=tmp_path / "log")
    refreshes = []
    original = app.main.refresh_view
    app.main.refresh_view = lambda: (refreshes.append(1), original())[1]
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: len(app.history.windows) >= 3)
        assert "/ 8192" in text(app.query_one(Summary))
        polls, windows = source.polls, len(app.history.windows)
    # the screen is refreshed per window (plus the first answer), not per sample
    assert polls >= 4 * windows
    assert len(refreshes) <= windows + 3
    assert source.closed  # closed on exit


async def test_a_silent_kernel_is_reported_at_once_and_keys_still_work(tmp_path):
    source = ScriptedSource(healthy())
    app = live_app(source, change_log=tmp_path / "log")
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: len(app.history.windows) >= 1)
        source.block()
        blocked_at = time.monotonic()
        assert await wait_for(pilot, lambda: "kernel not answering" in
                              text(app.query_one(Banner)), timeout=3)
        assert time.monotonic() - blocked_at < 1.5  # STALL_SECONDS + one check
        assert "STALE" in text(app.query_one(TitleBar))
        assert "/ 8192" in text(app.query_one(Summary))  # the last values stay
        assert await wait_for(pilot, lambda: "kernel-not-answering" in
                              [f.id for f in app.query_one(FindingsList).findings], 3)
        # every key still answers while the poll is asleep
        await pilot.press("p")
        assert "PAUSED" in text(app.query_one(TitleBar))
        await pilot.press("p", "right_square_bracket")
        assert await wait_for(pilot, lambda: app.history.interval == 1.0, 1)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.history.latest.status is None
        assert await wait_for(pilot, lambda: "for 2 s" in text(app.query_one(Banner)), 3)
        source.unblock()
        assert await wait_for(pilot, lambda: "STALE" not in text(app.query_one(TitleBar)))
        assert any(w.failures for w in app.history.windows)


async def test_a_throttling_kernel_keeps_real_values_on_screen(tmp_path):
    source = ScriptedSource(auditd_stopped(wait_time=500))  # the kernel may hold senders
    app = live_app(source, change_log=tmp_path / "log")
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: len(app.history.windows) >= 1)
        source.throttle(2.0)
        assert await wait_for(pilot, lambda: "THROTTLED" in text(app.query_one(TitleBar)), 3)
        banner = text(app.query_one(Banner))
        assert "kernel throttling" in banner and "values are real" in banner
        assert "STALE" not in text(app.query_one(TitleBar))
        assert "65 / 64" in text(app.query_one(Summary))
        assert await wait_for(pilot, lambda: "kernel-throttling" in
                              [f.id for f in app.query_one(FindingsList).findings], 3)


async def test_plus_then_undo_at_once_proposes_going_back_from_the_read_back_value(tmp_path):
    source = ScriptedSource(healthy())
    app = live_app(source, change_log=tmp_path / "log")
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.snapshot.status is not None)
        await pilot.press("plus", "y")
        assert await wait_for(pilot, lambda: source.writes == [("backlog_limit", 16384)], 2)
        assert await wait_for(pilot, lambda: app.snapshot.status.backlog_limit == 16384, 2)
        await pilot.press("u")  # at once: no window has to pass
        assert isinstance(app.screen, ConfirmScreen)
        assert (app.screen.proposal.old, app.screen.proposal.new) == (16384, 8192)


async def test_quit_while_the_kernel_is_silent(tmp_path):
    source = ScriptedSource(healthy())
    app = live_app(source, change_log=tmp_path / "log")
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: source.polls > 2)
        source.block()
        await pilot.pause(0.3)
        await pilot.press("q")
    assert source.closed and not source.blocked  # close() wakes the blocked poll
