"""The pipeline's third stage (auditd's plugin queue), settings changed
underneath auditop, and the key that asks auditd for a state report."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditop.core.monitor import Monitor
from auditop.probes.auditd_state import request_state
from auditop.sources.scripted import ScriptedSource, healthy, samples
from auditop.tui.view import build_view
from auditop.tui.widgets.summary import Banner, Summary, banner_content, summary_content

from .conftest import scripted_app, text

NOW = 1_700_000_060.0  # the fixed clock: the drift scenario's 60th second


def view_of(scenario: str, seconds: float = 60, **kwargs):
    snapshot = Monitor(ScriptedSource(healthy())).add(samples(scenario, seconds))
    options = dict(now=NOW, paused=False, read_only=False, blocked=None)
    options.update(kwargs)
    return build_view(snapshot, **options)


def test_plugin_queue_row_from_a_state_report():
    shown = summary_content(view_of("drift")).plain
    assert "plugins queue 1450 / 2000 (72%)  max used 1800  report 10 s old" in shown


def test_plugin_queue_row_without_a_report_says_how_to_get_one():
    assert "plugins no fresh state report  (i asks auditd)" in summary_content(
        view_of("healthy", can_ask_state=True)).plain
    read_only = summary_content(view_of("healthy", can_ask_state=True, read_only=True)).plain
    assert "plugins no fresh state report" in read_only and "i asks" not in read_only


def test_no_plugins_no_queue():
    snapshot = Monitor(ScriptedSource(healthy())).add(
        [replace(s, system=replace(s.system, config=replace(s.system.config, active_plugins=())))
         for s in samples("healthy", 3)])
    view = build_view(snapshot, now=NOW, paused=False, read_only=False, blocked=None)
    assert "plugins no plugins active (no plugin queue)" in summary_content(view).plain


def test_no_plugins_row_without_auditd():
    assert "plugins" not in summary_content(view_of("auditd-not-running", 5)).plain


def test_banner_names_who_changed_a_setting():
    assert banner_content(view_of("drift")).plain == (
        "! backlog_limit changed 8192 -> 100 by auditctl (pid 14356, auid 1000)")


def test_banner_before_the_log_names_anyone():
    view = view_of("drift", seconds=40.3)  # the change seen, its record not read yet
    assert banner_content(view).plain == (
        "! backlog_limit changed 8192 -> 100 at 22:14:00, not by auditop")


def test_findings_of_the_drift_scenario():
    ids = {f.id: f.severity for f in view_of("drift").findings}
    assert ids["setting-changed"] == "warning" and ids["plugin-queue-filling"] == "warning"


# -- the key -------------------------------------------------------------------------

async def test_s_asks_the_running_auditd_once():
    asked = []

    def ask(pid, letter):
        asked.append((pid, letter))
        return f"asked auditd (pid {pid}) for a state report (SIGCONT)"
    app = scripted_app(ask_auditd_state=ask)
    async with app.run_test(size=(80, 24)) as pilot:
        notices = []
        app.notify = lambda message, **kw: notices.append(message)
        await pilot.press("i")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert asked == [(812, "S")]
    assert notices == ["asked auditd (pid 812) for a state report (SIGCONT)"]


async def test_s_never_signals_a_stopped_auditd():
    """The real decision (request_state) with the signal replaced: auditd in
    state T is not signalled, and the notice says why."""
    signals = []

    def ask(pid, letter):
        return request_state(pid, letter, "3.0.9", kill=lambda p, s: signals.append((p, s)),
                             status=lambda p: ("auditd", "T"))
    app = scripted_app("auditd-stopped", ask_auditd_state=ask)
    async with app.run_test(size=(80, 24)) as pilot:
        notices = []
        app.notify = lambda message, **kw: notices.append((message, kw.get("severity")))
        await pilot.press("i")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert signals == []
    assert notices == [("not asked: auditd (pid 812) is stopped (state T): SIGCONT would "
                        "resume it, so no report is asked for", "warning")]


@pytest.mark.parametrize("options", [dict(read_only=True), dict()])
async def test_s_is_off_in_read_only_mode_or_without_a_way_to_ask(options):
    asked = []
    ask = None if not options else (lambda pid, letter: asked.append(pid) or "asked")
    app = scripted_app(ask_auditd_state=ask, **options)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.main.check_action("auditd_state", ()) is None
        await pilot.press("i")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert "s asks" not in text(app.query_one(Summary))
    assert asked == []


async def test_the_app_shows_drift_in_summary_banner_and_findings():
    app = scripted_app("drift", seconds=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "queue 1450 / 2000" in text(app.query_one(Summary))
        assert "by auditctl (pid 14356" in text(app.query_one(Banner))
