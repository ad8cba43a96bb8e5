"""Every test gets a state directory of its own (XDG_STATE_HOME, which
platformdirs follows), so `auditop check` run by one test never compares
with a run of another, or of the machine's monitoring, and no test writes
the user's real change log. Subprocesses inherit it. A test that needs
another state directory sets its own (monkeypatch wins, it runs later)."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


@pytest.fixture
def utc(monkeypatch):
    """Clock times are local: pin the zone so text, pictures and parsed
    times match whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
