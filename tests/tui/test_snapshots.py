"""SVG snapshots of the real app on scripted data with a fixed clock, at
80x24 and 120x40 (update with `pytest tests/tui --snapshot-update`),
grouped by what they show, as posting groups its snapshot tests. The
README's screenshots (tests/screenshots.py SHOTS) are each in one group."""

from __future__ import annotations

import pytest

from tests.screenshots import SHOTS, demo_app

SIZES = [(80, 24), (120, 40)]
GROUPS = {
    "monitor": ("healthy", "overflow", "failure-panic", "not-answering", "throttled", "drift"),
    "change": ("confirm",),
    "help": ("help",),
    "demo": ("demo-overflow", "demo-panic"),
    "replay": ("replay",),
}


def shots(group: str) -> list:
    return [shot for shot in SHOTS if shot.file in GROUPS[group]]


def at_every_size(group: str):
    """Parametrize a test with the group's shots at every size."""
    def decorate(test):
        test = pytest.mark.parametrize("shot", shots(group), ids=lambda s: s.file)(test)
        return pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")(test)
    return decorate


def test_every_readme_shot_is_in_one_group():
    grouped = [name for names in GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(shot.file for shot in SHOTS)


class TestMonitorScreen:
    """The live screen in each state a machine can be in."""

    @at_every_size("monitor")
    def test_state(self, snap_compare, shot, size):
        assert snap_compare(demo_app(shot.scenario), press=list(shot.press),
                            terminal_size=size)

    @pytest.mark.parametrize("scenario", ["auditd-stopped", "auditd-not-running", "disabled",
                                          "locked"])
    def test_degraded(self, snap_compare, scenario):
        assert snap_compare(demo_app(scenario), terminal_size=(80, 24))

    def test_read_only(self, snap_compare):
        assert snap_compare(demo_app("healthy", read_only=True), terminal_size=(80, 24))

    def test_small_terminal(self, snap_compare):
        assert snap_compare(demo_app("overflow"), terminal_size=(60, 20))


class TestChangeDialog:
    """The confirmation before a kernel setting changes."""

    @at_every_size("change")
    def test_confirm(self, snap_compare, shot, size):
        assert snap_compare(demo_app(shot.scenario), press=list(shot.press),
                            terminal_size=size)


class TestHelpScreen:
    @at_every_size("help")
    def test_help(self, snap_compare, shot, size):
        assert snap_compare(demo_app(shot.scenario), press=list(shot.press),
                            terminal_size=size)


class TestDemo:
    """The demo's simulator: an overflow, and the panic with failure = 2."""

    @at_every_size("demo")
    def test_demo(self, snap_compare, shot, size):
        assert snap_compare(demo_app(shot.scenario), press=list(shot.press),
                            terminal_size=size)


class TestReplay:
    @at_every_size("replay")
    def test_replay(self, snap_compare, shot, size):
        assert snap_compare(demo_app(shot.scenario), press=list(shot.press),
                            terminal_size=size)
