"""Where auditop keeps its files (platformdirs). Nothing is created at import."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "auditop"


def state_dir() -> Path:
    """Recordings and the change log; created on first use."""
    path = Path(platformdirs.user_state_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def change_log() -> Path:
    return state_dir() / "changes.jsonl"
