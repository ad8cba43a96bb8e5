"""Every statement true (issue 14): no banner or finding contradicts the
header it is shown with, in the demo (its tour and its keys, on a stepped
clock, as tests/tui/test_demo_tui.py drives it) and in every scripted
scenario, checked after every step.

The header is read as the screen shows it (the Summary widget's text), the
banner too, and the findings as the findings pane holds them: what is
compared is what a user reads side by side."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from auditop.core.findings import Finding
from auditop.core.monitor import Monitor
from auditop.sources.demo import DemoSource
from auditop.sources.demo_actions import TOUR, take_tour
from auditop.sources.scripted import PERIOD, SCENARIOS, ScriptedSource
from auditop.sources.scripted import samples as scripted_samples
from auditop.tui.app import AuditopApp
from auditop.tui.screens.panic import PanicScreen
from auditop.tui.widgets.findings import FindingsList
from auditop.tui.view import build_view, shown_peak
from auditop.tui.widgets.summary import Banner, Summary, banner_content, state_text
from tests.screenshots import fixed_clock

from .conftest import text
from .test_demo_tui import AheadClock, notices


# ------------------------------------------------------------------ the checker

@dataclass(frozen=True)
class Header:
    """The numbers of the header, as shown."""

    failure: int | None
    enabled: int | None
    backlog: int | None
    limit: int | None  # 0: unlimited
    peak: int | None
    wait: int | None  # backlog_wait_time, jiffies


def _int(pattern: str, shown: str) -> int | None:
    match = re.search(pattern, shown)
    return int(match.group(1)) if match else None


def header_of(summary: str) -> Header:
    shown = " ".join(summary.split())  # the rows flow over lines: one line again
    limit = _int(r"\bbacklog \d+ / (\d+)", shown)
    if limit is None and re.search(r"\bbacklog \d+ / unlimited", shown):
        limit = 0
    return Header(failure=_int(r"\bfailure (\d)", shown), enabled=_int(r"\benabled (\d)", shown),
                  backlog=_int(r"\bbacklog (\d+) /", shown), limit=limit,
                  peak=_int(r"\bpeak (\d+)", shown),
                  wait=_int(r"\bbacklog_wait_time [^(]*\((\d+) j\)", shown))


# What the screen states about failure now (not history: "went from 1 to 2").
FAILURE_NOW = (r"\bfailure is (\d) now", r"\bfailure = (\d)", r"\bNow: (?:[^.]*?, )?failure (\d)",
               r"\bnow (?:[^:.]*?, )?failure (\d)", r"\bfailure is now (\d)")


def contradictions(summary: str, banner: str, findings: tuple[Finding, ...]) -> list[str]:
    """What the banner and the findings say that the header beside them
    contradicts; [] when everything agrees."""
    head = header_of(summary)
    found = []
    said = [("banner", banner)] + [(f"finding {f.id}", f"{f.title}. {f.detail}")
                                   for f in findings]
    for where, words in said:
        words = " ".join(words.split())
        for pattern in FAILURE_NOW:
            for value in re.findall(pattern, words):
                if int(value) != head.failure:
                    found.append(f"{where} says failure {value}, the header failure "
                                 f"{head.failure}: {words[:160]}")
        if "AT the limit" in words and not (
                head.limit and head.backlog is not None and head.backlog >= head.limit):
            found.append(f"{where} says AT the limit beside backlog {head.backlog} / "
                         f"{head.limit}")
    if "processes wait" in banner and not head.wait:
        found.append(f"the banner says processes wait, backlog_wait_time is {head.wait}: "
                     f"{banner}")
    if head.peak is not None and head.backlog is not None and head.peak < head.backlog:
        found.append(f"peak {head.peak} below the backlog {head.backlog} shown with it")
    for backlog, limit in re.findall(r"AT the limit now \((\d+)/(\d+)\)", banner):
        if (int(backlog), int(limit)) != (head.backlog, head.limit):
            found.append(f"banner {backlog}/{limit}, header {head.backlog} / {head.limit}")
    for peak, limit, now in re.findall(r"peak (\d+)/(\d+), (\d+) now", banner):
        if (int(peak), int(limit), int(now)) != (head.peak, head.limit, head.backlog):
            found.append(f"banner peak {peak}/{limit}, {now} now; header peak {head.peak}, "
                         f"{head.backlog} / {head.limit}")
    for finding in findings:
        if finding.id == "setting-changed" and finding.severity == "critical" and not (
                head.failure == 2 or head.enabled == 2):
            found.append(f"setting-changed is critical with failure {head.failure} and "
                         f"enabled {head.enabled}")
        if finding.id == "failure-panic" and head.failure != 2:
            found.append(f"failure-panic beside failure {head.failure}")
    return found


def screen_contradictions(app) -> list[str]:
    return contradictions(text(app.query_one(Summary)), text(app.query_one(Banner)),
                          app.query_one(FindingsList).findings)


def test_the_checker_catches_what_users_saw():
    """Each case of issue 14 as the screen showed it, caught by the checker."""
    cases = [
        ("failure 1 (printk)", "", [Finding(
            "setting-changed", "critical", "3 audit setting changes underneath auditop",
            "failure is now 2: the first record the kernel loses panics the machine.")]),
        ("backlog 65 / 64 (102%)  peak 65 (102%)  backlog_wait_time 0 s (0 j)",
         "!! backlog hit its limit (65/64): processes wait, then records are lost.", []),
        ("backlog 0 / 64 (0%)  peak 65 (102%)", "! backlog rising: AT the limit now", []),
        ("backlog 8193 / 8192 (100%)  peak 0 (0%) in 1 s", "", []),
    ]
    for summary, banner, findings in cases:
        assert contradictions(summary, banner, tuple(findings)), summary
    assert contradictions("failure 1 (printk)  backlog 0 / 64  peak 0", "backlog not rising",
                          ()) == []


def test_process_states_in_words():
    assert state_text("D") == "D: waiting on disk"
    assert state_text("Z") == "Z: zombie: exited, not reaped"
    assert state_text("t") == "t: stopped by a debugger"
    assert state_text("?") == "state ?"  # a letter proc(5) does not list: shown as it is


def test_the_peak_shown_is_never_below_a_newer_backlog():
    samples = scripted_samples("healthy", 1.2)  # one window closed, an answer after it
    monitor = Monitor(ScriptedSource(samples))
    snapshot = monitor.add(samples[:-1])
    window = snapshot.window
    newer = replace(samples[-1], status=replace(samples[-1].status,
                                                backlog=window.backlog_peak + 100))
    assert shown_peak(window, newer) == window.backlog_peak + 100
    assert shown_peak(window, window.last) == window.backlog_peak  # the window holds it
    assert shown_peak(None, newer) is None  # no window yet: "peak ?"


def test_without_a_known_wait_time_the_banner_claims_no_waiting():
    snapshot = Monitor(ScriptedSource(scripted_samples("overflow", 20))).add(
        [replace(s, status=replace(s.status, backlog_wait_time=None))
         for s in scripted_samples("overflow", 20)])
    view = build_view(snapshot, now=0, paused=False, read_only=False, blocked=None)
    banner = banner_content(view).plain
    assert "records are lost" in banner and "wait" not in banner


# ------------------------------------------------------------------ the demo

def demo_app(ahead: bool = True, **settings) -> tuple[AuditopApp, DemoSource, AheadClock]:
    """`ahead`: the simulator's clock 10 000 s ahead of the Monitor's (so a
    change's read-back is a later sample), else 5 s (auditop's own change
    is expected within its OWN_CHANGE_SECONDS)."""
    clock = AheadClock()
    if not ahead:
        clock.now = time.monotonic() + 5.0
    source = DemoSource(clock=clock, **settings)
    app = AuditopApp(source=source, demo=True, autostart=False, change_log=Path(os.devnull))
    return app, source, clock


async def step(app, pilot, clock, source, seconds: float = 0.1) -> list[str]:
    """`seconds` more of the simulated machine at 10 Hz; what the screen
    then contradicts."""
    for _ in range(round(seconds * 10)):
        clock.now += 0.1
        app.monitor.add([source.poll()])
    await pilot.pause()
    return screen_contradictions(app)


async def test_no_step_of_the_tour_contradicts_the_header():
    app, source, clock = demo_app()
    seen: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        elapsed = 0.0
        while elapsed < TOUR[-1].at + 3 and not isinstance(app.screen, PanicScreen):
            take_tour(source, elapsed, elapsed + 0.1)
            elapsed += 0.1
            seen += [f"{elapsed:.1f} s: {c}" for c in await step(app, pilot, clock, source)]
        assert isinstance(app.screen, PanicScreen)  # the tour ran to its end
        (changed,) = [f for f in app.query_one(FindingsList).findings
                      if f.id == "setting-changed"]
        # the tour's own changes (backlog_wait_time 500, 0; failure 2) are the demo's
        assert changed.detail.count("set by the demo") == 3, changed.detail
        assert "not followed" not in changed.detail and changed.severity == "critical"
    assert seen == []


async def test_no_demo_key_contradicts_the_header():
    app, source, clock = demo_app()
    seen: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        async def after(*keys: str, seconds: float = 2.0) -> None:
            await pilot.press(*keys)
            for _ in range(round(seconds * 10)):
                seen.extend(f"after {keys}: {c}" for c in await step(app, pilot, clock, source))
        await after()
        for keys in [("c",), ("c",), ("c",), ("e",), ("e", "w"), ("s", "f"), ("w",), ("f", "s"),
                     ("d",), ("d", "o"), ("l",), ("k",), ("f",), ("a",), ("f", "m"),
                     ("a",), ("c",), ("s", "f")]:
            await after(*keys)
        assert isinstance(app.screen, PanicScreen)  # failure 2 under a flood: the panic
        await after("r")
        await after("plus", "y")
    assert seen == []


# ------------------------------------------------------ the scripted scenarios

@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_no_step_of_a_scripted_scenario_contradicts_the_header(scenario):
    script = SCENARIOS[scenario]()
    app = AuditopApp(source=ScriptedSource(script), autostart=False, clock=fixed_clock,
                     change_log=Path(os.devnull))
    seen: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        steps = round((45 if scenario == "drift" else 20) / PERIOD)
        for n in range(0, steps, 2):
            app.monitor.add([script(n), script(n + 1)])
            await pilot.pause()
            seen += [f"{scenario} at {n * PERIOD:.1f} s: {c}"
                     for c in screen_contradictions(app)]
    assert seen == []


# ------------------------------------------------ each case as a user saw it

async def test_failure_cycled_back_to_1_is_no_panic_and_named_as_the_demos():
    """1 -> 2 -> 0 -> 1 with `c`: the finding says failure 1 now, is no
    longer critical, and names the demo (its simulated auditd logs it)."""
    app, source, clock = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await step(app, pilot, clock, source, 1)
        for _ in range(3):
            await pilot.press("c")
            await step(app, pilot, clock, source, 1)
        assert "failure 1 (printk)" in text(app.query_one(Summary))
        (changed,) = [f for f in app.query_one(FindingsList).findings
                      if f.id == "setting-changed"]
        assert changed.severity == "warning"
        assert changed.title == "3 audit setting changes underneath auditop: now failure 1"
        assert "Now: failure 1 (printk)." in changed.detail
        assert "failure is now 2" not in changed.detail and "is 2 now" not in changed.detail
        assert "set by the demo" in changed.detail and "The demo made these changes" in \
            changed.detail
        assert "not followed" not in changed.detail
        banner = text(app.query_one(Banner))
        assert banner == "! failure changed 0 -> 1 by the demo (+2 more)"
        assert "not by auditop" not in banner


async def test_the_demos_wait_key_and_tour_are_the_demos_changes():
    app, source, clock = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await step(app, pilot, clock, source, 1)
        await pilot.press("w")
        assert "backlog_wait_time 0 -> 500" in notices(app)
        await step(app, pilot, clock, source, 1)
        assert text(app.query_one(Banner)) == "! backlog_wait_time changed 0 -> 500 by the demo"
        take_tour(source, 29.0, 31.0)  # the tour's step back to backlog_wait_time 0
        await step(app, pilot, clock, source, 1)
        assert text(app.query_one(Banner)) == ("! backlog_wait_time changed 500 -> 0 by the "
                                              "demo (+1 more)")


async def test_auditops_own_change_in_the_demo_is_not_flagged():
    """`+` goes through the Monitor's change path: not drift, though the
    simulated auditd logs a CONFIG_CHANGE for it (by auditop)."""
    app, source, clock = demo_app(ahead=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await step(app, pilot, clock, source, 1)
        await pilot.press("plus", "y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await step(app, pilot, clock, source, 1)
        assert "/ 128" in text(app.query_one(Summary))
        assert not app.snapshot.setting_changes
        assert "changed" not in text(app.query_one(Banner))


async def test_at_the_limit_only_while_the_backlog_shown_is():
    """Bursts: the peak reaches the limit between two reads of a backlog
    that is 0 at the moment shown."""
    app, source, clock = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await step(app, pilot, clock, source, 1)
        await pilot.press("e")
        said = set()
        for _ in range(40):
            await step(app, pilot, clock, source)
            head = header_of(text(app.query_one(Summary)))
            banner = text(app.query_one(Banner))
            said.add((head.backlog >= 64, banner.split(":")[0]))
            if head.backlog < 64:
                assert "AT the limit" not in banner
        assert (False, "!! backlog hit its limit (peak 65/64, 0 now)") in said
        assert (True, "!! backlog AT the limit now (65/64)") in said


async def test_a_full_backlog_without_a_wait_time_loses_records_at_once():
    app, source, clock = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s", "f")
        await step(app, pilot, clock, source, 2)
        banner = text(app.query_one(Banner))
        assert banner.startswith("!! backlog AT the limit now (65/64): records are lost at "
                                 "once (backlog_wait_time 0).")
        assert "processes wait" not in banner
        await pilot.press("w")  # backlog_wait_time 500: now they wait first
        await step(app, pilot, clock, source, 3)
        await pilot.press("s")  # auditd resumed: the throttle ends, the peak stays a while
        for _ in range(10):
            banner = text(app.query_one(Banner))
            if "processes wait" in banner:
                break
            await step(app, pilot, clock, source)
        assert "processes wait up to 2 s (500 j), then records are lost" in banner


async def test_the_panic_shows_a_peak_no_lower_than_its_backlog():
    """failure 2 and a flood on a limit of 8192: the machine panics inside
    a window; the frozen header's peak is that backlog, not the window before's 0."""
    app, source, clock = demo_app(backlog_limit=8192)
    async with app.run_test(size=(100, 30)) as pilot:
        await step(app, pilot, clock, source, 1.5)
        await pilot.press("c", "s", "f")
        await step(app, pilot, clock, source, 0.2)
        assert isinstance(app.screen, PanicScreen)
        head = header_of(text(app.query_one(Summary)))
        assert head.backlog == 8193 and head.peak == 8193
        body = app.screen.query_one("#panic-text").render().plain
        assert "(backlog 8193 of its limit 8192)" in body
        # the banner tells the panic that happened, not the one to come
        await step(app, pilot, clock, source, 2)
        banner = text(app.query_one(Banner))
        assert banner.startswith("!! the simulated machine PANICKED at ")
        assert "(audit: backlog limit exceeded)" in banner and "next lost record" not in banner
        await pilot.press("r")
        await step(app, pilot, clock, source, 1)
        assert "PANICKED" not in text(app.query_one(Banner))


async def test_auditds_state_in_words():
    app, source, clock = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await step(app, pilot, clock, source, 1)
        assert "auditd 812 running" in text(app.query_one(Summary))
        await pilot.press("d")  # the disk stalls: auditd sleeps in write(), state D
        await step(app, pilot, clock, source, 1)
        summary = text(app.query_one(Summary))
        assert "auditd 812 D: waiting on disk" in summary and "(D)" not in summary


async def test_reset_starts_a_fresh_history_and_chart_scale():
    """After `r` no window of the run before is kept, so a later, smaller
    loss fills the lost/s chart instead of drawing as its bottom row."""
    app, source, clock = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("s", "f")  # auditd stopped under a flood: ~400k/s lost
        await step(app, pilot, clock, source, 4)
        assert max(w.lost_per_s or 0 for w in app.view.windows) > 100_000
        await pilot.press("r")
        assert "the simulated machine rebooted" in notices(app)
        assert app.view.windows == () and app.snapshot.latest is None
        assert "waiting for the kernel's first answer" in text(app.query_one(Summary))
        await step(app, pilot, clock, source, 2)
        await pilot.press("e", "s")  # bursts with auditd stopped: a smaller loss
        await step(app, pilot, clock, source, 4)
        rates = [w.lost_per_s or 0 for w in app.view.windows]
        assert 0 < max(rates) < 100_000  # the scale is this run's
        assert all(w.start >= source.booted_at + source._offset for w in app.view.windows)
