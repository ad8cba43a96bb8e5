"""Degraded states: each one readable, in words, and nothing crashes."""

from __future__ import annotations

import pytest

from auditop.core.errors import NoAuditSupport, NotPrivileged
from auditop.sources.scripted import ScriptedSource, healthy
from auditop.tui.app import AuditopApp
from auditop.tui.screens.fatal import FatalScreen
from auditop.tui.screens.help import HelpScreen
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.widgets.summary import Banner, Summary, TitleBar

from .conftest import scripted_app, text


def findings(app) -> list[str]:
    return [f.id for f in app.query_one(FindingsList).findings]


@pytest.mark.parametrize("error,words", [
    (NotPrivileged(), "needs CAP_AUDIT_CONTROL: run as root"),
    (NoAuditSupport(), "no audit support"),
])
async def test_fatal_from_the_source_factory(error, words):
    def factory():
        raise error
    app = AuditopApp(source_factory=factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FatalScreen)
        assert words in str(app.screen.query_one("#fatal-text").render())
        await pilot.press("q")
    assert app.return_code == error.exit_code


class RefusingSource(ScriptedSource):
    def poll(self):
        raise NotPrivileged()


async def test_fatal_from_the_first_poll():
    app = AuditopApp(source=RefusingSource(healthy()))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            await pilot.pause(0.02)
            if isinstance(app.screen, FatalScreen):
                break
        assert isinstance(app.screen, FatalScreen)
        assert "run as root" in str(app.screen.query_one("#fatal-text").render())
        await pilot.press("q")
    assert app.return_code == 1


async def test_auditd_not_running():
    app = scripted_app("auditd-not-running")
    async with app.run_test(size=(80, 24)):
        assert "auditd NOT RUNNING (pid 0)" in text(app.query_one(Summary))
        assert "auditd-not-running" in findings(app)


async def test_auditd_stopped():
    app = scripted_app("auditd-stopped")
    async with app.run_test(size=(80, 24)):
        assert "auditd 812 STOPPED" in text(app.query_one(Summary))
        assert "auditd-stopped" in findings(app)


async def test_audit_disabled():
    app = scripted_app("disabled")
    async with app.run_test(size=(80, 24)):
        assert "enabled 0 (OFF" in text(app.query_one(Summary))
        assert "audit-disabled" in findings(app)


async def test_audit_locked_disables_changes():
    app = scripted_app("locked")
    async with app.run_test(size=(80, 24)) as pilot:
        assert "enabled 2 (on, LOCKED)" in text(app.query_one(Summary))
        assert "changes off: audit is locked" in text(app.query_one(TitleBar))
        assert app.main.check_action("double", ()) is None
        await pilot.press("plus", "y", "b")
        await pilot.pause()
        assert app.source.writes == []
        assert "audit-locked" in findings(app)


async def test_failure_panic():
    app = scripted_app("panic")
    async with app.run_test(size=(80, 24)):
        assert "failure 2 (PANIC)" in text(app.query_one(Summary))
        assert "time to panic" in text(app.query_one(Banner))
        assert findings(app)[0] == "failure-panic"


@pytest.mark.parametrize("size", [(80, 24), (60, 20), (40, 12), (20, 6), (120, 40), (200, 60)])
@pytest.mark.parametrize("scenario", ["healthy", "overflow", "panic", "auditd-stopped"])
async def test_any_size_renders(size, scenario):
    """At every size the screen, the change dialog over it and the help
    draw, each the size of the terminal."""
    app = scripted_app(scenario)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        monitor = app.screen
        assert app.export_screenshot().startswith("<svg")
        assert monitor.size == size
        await pilot.press("plus")
        await pilot.pause()
        assert app.screen is not monitor  # the change dialog, over the monitor
        assert app.export_screenshot().startswith("<svg")
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.size == size
        assert app.export_screenshot().startswith("<svg")


async def test_resize_while_running():
    """Each resize lays the screen out again at the new size, with the
    summary still saying what it said."""
    app = scripted_app("overflow")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        said = text(app.query_one(TitleBar))
        for size in [(120, 40), (60, 20), (80, 24)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert app.screen.size == size
            assert app.query_one(Summary).size.width <= size[0]
            assert app.export_screenshot().startswith("<svg")
        assert text(app.query_one(TitleBar)) == said


async def test_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = scripted_app("overflow")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.no_color
        svg = app.export_screenshot()
        # severity survives without colour: words and symbols
        assert "CRIT&#160;!!" in svg or "CRIT !!" in svg
        assert "LOST" in text(app.query_one(Summary))


async def test_term_xterm(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("COLORTERM", raising=False)
    app = scripted_app("panic")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.export_screenshot()
        assert "failure 2 (PANIC)" in text(app.query_one(Summary))
