"""`auditop --demo` in the TUI (Pilot): the demo's keys act on the simulator
through the same Monitor and screen; failure = 2 stops the demo at its panic
until reset; backlog_limit changes take the same path and confirmations.

The simulator's clock is stepped by the test and samples are fed by hand
(no sampler thread), so what the screen shows depends on nothing else. The
clock runs ahead of the real one: a change's read-back is a sample taken
after the SET."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from auditop.sources.demo import DemoSource
from auditop.sources.demo_actions import TOUR
from auditop.tui.app import AuditopApp
from auditop.tui.screens.confirm import ConfirmScreen, PanicConfirmScreen
from auditop.tui.screens.help import HelpScreen
from auditop.tui.screens.panic import PanicScreen
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.widgets.summary import Banner, Summary, TitleBar

from .conftest import scripted_app, text


class AheadClock:
    def __init__(self) -> None:
        self.now = time.monotonic() + 10_000.0

    def __call__(self) -> float:
        return self.now


def demo_app(**settings) -> tuple[AuditopApp, DemoSource, AheadClock]:
    clock = AheadClock()
    source = DemoSource(clock=clock, **settings)
    app = AuditopApp(source=source, demo=True, autostart=False, change_log=Path(os.devnull))
    return app, source, clock


async def run_for(app, pilot, clock, source, seconds: float) -> None:
    """`seconds` of the simulated machine, sampled at 10 Hz."""
    def polls():
        for _ in range(round(seconds * 10)):
            clock.now += 0.1
            yield source.poll()
    app.monitor.add(polls())
    await pilot.pause()


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_two_keys_stall_and_flood_and_the_screen_says_why():
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await run_for(app, pilot, clock, source, 2)
        assert "DEMO" in text(app.query_one(TitleBar))
        assert "0 / 64" in text(app.query_one(Summary)) or "1 / 64" in text(
            app.query_one(Summary))
        await pilot.press("s", "f")
        assert "auditd stopped (SIGSTOP)" in notices(app)
        assert any(n.startswith("flood on: 2 processes open a file in a loop (tar")
                   for n in notices(app))
        await run_for(app, pilot, clock, source, 3)
        summary = text(app.query_one(Summary))
        assert "65 / 64 (102%)" in summary and "auditd 812 STOPPED" in summary
        assert "LOST" in summary and re.search(r"\(\+\d{4,}/s\)", summary)  # thousands a second
        assert "backlog hit its limit" in text(app.query_one(Banner)) or \
            "AT the limit" in text(app.query_one(Banner))
        titles = [f.title for f in app.query_one(FindingsList).findings]
        assert {"auditd is stopped", "Backlog is filling up"} <= set(titles)
        # the cause as the simulated kernel's log names it
        assert "Audit records are being lost (backlog limit exceeded)" in titles
        await pilot.press("f", "s")  # flood off, auditd resumed: it drains
        await run_for(app, pilot, clock, source, 3)
        summary = text(app.query_one(Summary))
        assert "running" in summary and "LOST" not in summary


async def test_the_kernel_holding_auditops_senders_shows_throttled():
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w", "s", "f")  # backlog_wait_time 500, auditd stopped, a flood
        assert "backlog_wait_time 0 -> 500" in notices(app)
        await run_for(app, pilot, clock, source, 2)
        assert "THROTTLED" in text(app.query_one(TitleBar))
        assert "THROTTLED" in text(app.query_one(Summary))


async def test_failure_2_stops_the_demo_at_its_panic_until_reset():
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await run_for(app, pilot, clock, source, 1)
        await pilot.press("c")
        assert "failure = 2 (PANIC)" in notices(app)
        await pilot.press("s", "f")
        await run_for(app, pilot, clock, source, 1)
        assert isinstance(app.screen, PanicScreen)
        body = app.screen.query_one("#panic-text").render().plain
        assert "Kernel panic - not syncing: audit: backlog limit exceeded" in body
        assert app.paused and "PAUSED" in text(app.query_one(TitleBar))
        frozen = text(app.query_one(Summary))
        await pilot.press("f", "s", "plus")  # nothing but reset and quit works now
        await run_for(app, pilot, clock, source, 2)
        assert isinstance(app.screen, PanicScreen) and source.panicked is not None
        assert text(app.query_one(Summary)) == frozen
        await pilot.press("r")
        assert not isinstance(app.screen, PanicScreen) and not app.paused
        assert source.panicked is None
        await run_for(app, pilot, clock, source, 2)
        summary = text(app.query_one(Summary))
        assert "failure 1 (printk)" in summary and "running" in summary


async def test_backlog_limit_changes_on_the_simulator_like_on_the_kernel():
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await run_for(app, pilot, clock, source, 1)
        await pilot.press("plus")
        assert isinstance(app.screen, ConfirmScreen)
        assert (app.screen.proposal.old, app.screen.proposal.new) == (64, 128)
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert source.poll().status.backlog_limit == 128
        assert any("backlog_limit: 64 -> 128 (read back from the kernel)" in n
                   for n in notices(app)), notices(app)


async def test_with_failure_2_a_risky_change_asks_twice_as_on_a_real_machine():
    app, source, clock = demo_app(failure=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await run_for(app, pilot, clock, source, 1)
        await pilot.press("minus")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        assert isinstance(app.screen, PanicConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert source.poll().status.backlog_limit == 64


async def test_the_demo_keys_are_in_the_footer_line_and_the_help():
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        keys = app.query_one("#mode-keys").render().plain
        for word in ("f flood", "o burst", "s stall", "l rotate", "m rmem", "c failure",
                     "r reset", "t tour"):
            assert word in keys, word
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = app.screen.query_one("#help-text").render().plain
        assert "demo: flood on/off" in body and "demo: failure mode 1 -> 2 -> 0 -> 1" in body
        assert "replay:" not in body


async def test_the_tour_key_starts_and_stops_the_tour():
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        assert app.main._tour is not None and "the tour: every incident in turn" in notices(app)
        app.main._tour[1] -= TOUR[0].at + 0.1  # as if the tour had run to its first step
        app.main._tour_tick()
        await pilot.pause()
        panel = app.query_one("#tour-panel")
        # the narration stays on screen (before: only in a notice that vanished)
        assert panel.display and f"tour 1/{len(TOUR)}: {TOUR[0].says}" in text(panel)
        assert source._stopped and source._flooding  # its first step ran on the simulator
        await pilot.press("right_curly_bracket")  # the next step at once
        assert f"tour 2/{len(TOUR)}: {TOUR[1].says}" in text(panel)
        assert not source._stopped and not source._flooding  # step 2 resumed auditd
        await pilot.press("left_curly_bracket")  # and back: step 1's actions run again
        assert f"tour 1/{len(TOUR)}" in text(panel) and source._stopped and source._flooding
        await pilot.press("t")
        assert app.main._tour is None and not panel.display


async def test_live_mode_has_no_demo_or_replay_keys():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        active = {b.id for _, b, _, _ in app.screen.active_bindings.values()}
        assert not {i for i in active if (i or "").startswith(("demo.", "replay."))}
        assert "plot" in active and "interval.shorter" in active
        assert not app.query("#mode-keys")
        await pilot.press("f", "s")  # demo keys: nothing here
        assert app.source.writes == []


async def test_the_who_row_names_the_demos_culprit():
    """Issue 16: during the flood the main screen names the backup job."""
    app, source, clock = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await run_for(app, pilot, clock, source, 2)
        await pilot.press("f")
        await run_for(app, pilot, clock, source, 3)
        who = [line for line in text(app.query_one(Summary)).splitlines()
               if line.startswith("who ")]
        assert who and "key backup_watch" in who[0] and "by tar" in who[0], who
        await pilot.press("W")
        await pilot.pause()
        assert "backup_watch" in text(app.screen.query_one("#producers-text"))
