"""Shared helpers for the TUI tests: a fixed clock in UTC, scripted apps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditop.sources.scripted import SCENARIOS, ScriptedSource, samples
from auditop.tui.app import AuditopApp
from tests.screenshots import fixed_clock


@pytest.fixture(autouse=True)
def _utc(utc):
    """The title line shows local time (tests/conftest.py pins the zone)."""


@pytest.fixture
def change_log(tmp_path) -> Path:
    return tmp_path / "changes.jsonl"


def scripted_app(scenario: str = "healthy", *, seconds: float = 20, change_log: Path | None = None,
                 read_only: bool = False, source: ScriptedSource | None = None,
                 **kwargs) -> AuditopApp:
    """An app preloaded with `seconds` of a scenario and no sampler running:
    keys, dialogs and writes can be checked without timing."""
    source = source or ScriptedSource(SCENARIOS[scenario]())
    return AuditopApp(source=source, preload=samples(scenario, seconds), autostart=False,
                      clock=fixed_clock, read_only=read_only,
                      change_log=change_log or Path(os.devnull), **kwargs)


def text(widget) -> str:
    """What a widget shows, as plain text."""
    return widget.render().plain
