"""Every key and dialog, with a scripted source: what reaches the source,
and that nothing does on cancel."""

from __future__ import annotations

import json

import pytest

from auditop.core.errors import AuditLocked, InvalidValue, NotPrivileged
from auditop.sources.scripted import ScriptedSource, healthy
from auditop.tui.screens.confirm import ConfirmScreen
from auditop.tui.screens.finding import FindingScreen
from auditop.tui.screens.help import HelpScreen
from auditop.tui.screens.value import ValueScreen
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.widgets.summary import Summary, TitleBar

from .conftest import scripted_app, text


async def settle(app, pilot):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def logged(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("key,confirm,expected", [
    ("plus", "y", 16384), ("plus", "enter", 16384),
    ("minus", "y", 4096), ("minus", "enter", 4096),
])
async def test_double_halve_confirm(key, confirm, expected, change_log):
    app = scripted_app(change_log=change_log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.proposal.old == 8192 and app.screen.proposal.new == expected
        await pilot.press(confirm)
        await settle(app, pilot)
        assert app.source.writes == [("backlog_limit", expected)]
        assert not isinstance(app.screen, ConfirmScreen)
    who = {"time": 0, "user": "", "uid": 0, "login_user": None, "loginuid": None}
    assert logged(change_log)[0] | who == who | {
        "field": "backlog_limit", "old": 8192, "new": expected, "result": "ok"}


@pytest.mark.parametrize("key", ["plus", "minus"])
@pytest.mark.parametrize("cancel", ["n", "escape"])
async def test_cancel_writes_nothing(key, cancel, change_log):
    app = scripted_app(change_log=change_log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(cancel)
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.source.writes == []
    assert logged(change_log) == []


async def test_read_back_is_notified(change_log):
    source = ScriptedSource(healthy(), readback={"backlog_limit": 9000})
    app = scripted_app(source=source, change_log=change_log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("plus", "y")
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("asked for 16384, the kernel reads back 9000" in m for m in messages)
    assert logged(change_log)[0]["new"] == 9000


async def test_exact_value_validates_as_you_type(change_log):
    app = scripted_app(change_log=change_log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        assert isinstance(app.screen, ValueScreen)
        await pilot.press("1", "2", "x")
        error = app.screen.query_one("#value-error")
        assert "must be a whole number" in str(error.render())
        await pilot.press("enter")  # refused: the dialog stays
        assert isinstance(app.screen, ValueScreen)
        await pilot.press("backspace", "backspace", "backspace", "0")
        assert "unlimited" in str(app.screen.query_one("#value-error").render())
        await pilot.press("backspace", *"12000", "enter")
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.proposal.new == 12000
        await pilot.press("y")
        await settle(app, pilot)
        assert app.source.writes == [("backlog_limit", 12000)]


async def test_exact_value_escape_writes_nothing():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b", "5", "escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ValueScreen)
        assert app.source.writes == []


async def test_exact_value_then_cancel_writes_nothing():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b", *"9000", "enter", "n")
        await settle(app, pilot)
        assert app.source.writes == []


async def test_undo_restores_the_value_found_at_start(change_log):
    app = scripted_app(change_log=change_log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("u")  # nothing to restore yet
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("plus", "y")
        await settle(app, pilot)
        # at once: the read-back value, not the last sample before the change
        await pilot.press("u")
        assert isinstance(app.screen, ConfirmScreen)
        assert (app.screen.proposal.old, app.screen.proposal.new) == (16384, 8192)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.source.writes == [("backlog_limit", 16384), ("backlog_limit", 8192)]
    assert [e["new"] for e in logged(change_log)] == [16384, 8192]


@pytest.mark.parametrize("error,blocked", [
    (NotPrivileged(), "not privileged"), (AuditLocked(), "locked"),
    (InvalidValue("too large"), None)])
async def test_failed_change_is_shown_and_logged(error, blocked, change_log):
    source = ScriptedSource(healthy(), set_error=error)
    app = scripted_app(source=source, change_log=change_log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("plus", "y")
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any(str(error) in m for m in messages)
        if blocked:
            assert blocked in text(app.query_one(TitleBar))
            assert app.main.check_action("double", ()) is None
        else:
            assert app.main.check_action("double", ()) is True
    assert logged(change_log)[0]["result"] == str(error)


async def test_read_only_disables_every_change():
    app = scripted_app(read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("plus", "minus", "b", "u"):
            await pilot.press(key)
            assert not isinstance(app.screen, (ConfirmScreen, ValueScreen))
        for action in ("double", "halve", "exact", "restore"):
            assert app.main.check_action(action, ()) is None
        assert "read-only" in text(app.query_one(TitleBar))
        assert app.source.writes == []


async def test_pause_freezes_the_display_not_the_history():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        assert "PAUSED" in text(app.query_one(TitleBar))
        before = text(app.query_one(Summary))
        windows = len(app.history.windows)
        source = ScriptedSource(healthy(), restamp=False)
        source.polls = 200
        app.monitor.add(source.poll() for _ in range(30))
        await pilot.pause()
        assert len(app.history.windows) > windows  # sampling went on
        assert text(app.query_one(Summary)) == before
        await pilot.press("p")
        assert "PAUSED" not in text(app.query_one(TitleBar))
        assert text(app.query_one(Summary)) != before


async def test_pause_keeps_the_banner_with_the_numbers_it_was_shown_beside():
    """Paused on a healthy screen while an overflow goes on underneath: the
    banner must not speak of the overflow beside the frozen healthy numbers."""
    from auditop.sources.scripted import overflow
    from auditop.tui.widgets.summary import Banner
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        banner, summary = text(app.query_one(Banner)), text(app.query_one(Summary))
        source = ScriptedSource(overflow(), restamp=False)
        source.polls = 200  # on from the preloaded 20 s, floods under way
        app.monitor.add(source.poll() for _ in range(60))
        await pilot.pause()
        assert any(w.lost > 0 for w in app.snapshot.windows)  # records lost meanwhile
        assert text(app.query_one(Summary)) == summary
        assert text(app.query_one(Banner)) == banner
        await pilot.press("p")
        assert text(app.query_one(Banner)) != banner


async def test_interval_keys_step_and_stop():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.history.interval == 2.0
        assert "window 2 s" in text(app.query_one(TitleBar))
        await pilot.press(*["right_square_bracket"] * 4)
        assert app.history.interval == 10.0
        await pilot.press(*["left_square_bracket"] * 5)
        assert app.history.interval == 0.5


async def test_help_lists_keys_and_closes():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = str(app.screen.query_one("#help-text").render())
        assert "propose doubling backlog_limit" in body
        await pilot.press("plus")  # change keys do nothing behind a dialog
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert app.source.writes == []


async def test_finding_explained_on_enter():
    app = scripted_app("overflow")
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(FindingsList).focus()
        await pilot.press("down", "enter")
        assert isinstance(app.screen, FindingScreen)
        second = app.query_one(FindingsList).findings[1]
        assert app.screen.finding == second
        await pilot.press("escape")
        assert not isinstance(app.screen, FindingScreen)


async def test_quit():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
    assert app.return_code == 0


async def test_bindings_have_ids():
    from auditop.tui.app import tui_bindings
    ids = [b.id for b in tui_bindings()]
    assert all(ids) and len(set(ids)) == len(ids) and len(ids) > 30


async def test_odd_text_in_the_exact_value_dialog_is_refused_not_fatal():
    app = scripted_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for typed in ("--5", "9" * 60, "0x10", " - 3"):
            await pilot.press("b", *typed, "enter")
            assert isinstance(app.screen, ValueScreen), typed
            assert str(app.screen.query_one("#value-error").render()), typed
            await pilot.press("escape")
        assert app.source.writes == []


async def test_a_risky_change_with_failure_2_needs_a_second_confirmation_naming_the_panic(
        change_log):
    from auditop.tui.screens.confirm import PanicConfirmScreen
    app = scripted_app("panic", change_log=change_log)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("minus")  # halving the limit can lose records
        assert isinstance(app.screen, ConfirmScreen)
        assert "risk:" in str(app.screen.query_one("#confirm-text").render())
        await pilot.press("y")
        assert isinstance(app.screen, PanicConfirmScreen)
        assert "PANIC" in str(app.screen.query_one("#confirm-text").render())
        await pilot.press("y", "enter")  # the habit of the first dialog does nothing
        assert isinstance(app.screen, PanicConfirmScreen) and app.source.writes == []
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen) and app.source.writes == []
        await pilot.press("minus", "y", "P")
        await settle(app, pilot)
        assert app.source.writes == [("backlog_limit", 4096)]
        # raising the limit risks nothing: one confirmation, as usual
        await pilot.press("plus", "y")
        await settle(app, pilot)
        assert app.source.writes[-1] == ("backlog_limit", 8192)


@pytest.mark.parametrize("opens", [["question_mark"], ["g"], ["tab", "enter"]],
                         ids=["help", "chart", "finding"])
async def test_q_quits_from_every_screen(opens):
    """Before: q closed the help and the explanation (whose footer said
    "q quit") and did nothing in the chart."""
    from auditop.tui.screens.finding import FindingScreen
    from auditop.tui.screens.plot import PlotScreen
    app = scripted_app("overflow")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*opens)
        await pilot.pause()
        assert isinstance(app.screen, (HelpScreen, PlotScreen, FindingScreen)), app.screen
        await pilot.press("q")
    assert app.return_code == 0
