"""SVG snapshots of the real app on scripted data with a fixed clock, at
80x24 and 120x40 (update with `pytest tests/tui --snapshot-update`)."""

from __future__ import annotations

import pytest

from tests.screenshots import SHOTS, demo_app

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("shot", SHOTS, ids=lambda s: s.file)
def test_snapshot(snap_compare, shot, size):
    assert snap_compare(demo_app(shot.scenario), press=list(shot.press), terminal_size=size)


@pytest.mark.parametrize("scenario", ["auditd-stopped", "auditd-not-running", "disabled",
                                      "locked"])
def test_degraded_snapshot(snap_compare, scenario):
    assert snap_compare(demo_app(scenario), terminal_size=(80, 24))


def test_read_only_snapshot(snap_compare):
    assert snap_compare(demo_app("healthy", read_only=True), terminal_size=(80, 24))


def test_small_terminal_snapshot(snap_compare):
    assert snap_compare(demo_app("overflow"), terminal_size=(60, 20))
