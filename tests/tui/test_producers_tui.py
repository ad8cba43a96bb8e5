"""Issue 16 on the screen: the `who` row names the top rule key and process
at 80x24, and `W` opens the producers screen, its dimension switched by keys."""

from __future__ import annotations

from auditop.sources.scripted import SCENARIOS, ScriptedSource
from tests.tui.conftest import scripted_app, text
from tests.unit.test_producers_wiring import producers


def counting_app(scenario: str = "overflow"):
    source = ScriptedSource(SCENARIOS[scenario]())
    source.producers = lambda: producers(backup=93, other=7)  # what the live source drains
    return scripted_app(scenario, source=source)


async def test_the_who_row_names_the_top_key_and_process_at_80x24():
    app = counting_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        summary = text(app.screen.query_one("#summary"))
    who = [line for line in summary.splitlines() if line.startswith("who ")]
    assert len(who) == 1, summary
    row = who[0]
    assert len(row) <= 78
    assert "key backup_watch 93% 465/s" in row and "by tar 93% 465/s" in row, row
    assert "500 records/s" in row and "W: all" in row


async def test_no_row_without_producers():
    app = scripted_app("overflow")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "who " not in text(app.screen.query_one("#summary"))


async def test_w_opens_the_producers_screen_and_keys_switch_the_dimension():
    app = counting_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("W")
        await pilot.pause()
        shown = text(app.screen.query_one("#producers-text"))
        assert shown.startswith("who fills the queue, by rule key: 500 records")
        assert "93%" in shown and "backup_watch" in shown
        await pilot.press("c")
        await pilot.pause()
        shown = text(app.screen.query_one("#producers-text"))
        assert "by process" in shown and "tar" in shown and "sshd" in shown
        await pilot.press("r")
        await pilot.pause()
        assert "-F dir=/srv/backup" in text(app.screen.query_one("#producers-text"))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.query("#summary")


async def test_the_finding_names_the_culprit_with_advice_only():
    app = counting_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        findings = app.snapshot.findings
    found = next(f for f in findings if f.id == "one-producer-dominates")
    assert "backup_watch" in found.title
    assert "auditctl -A never,exit -F exe=/usr/bin/tar" in found.remedy
