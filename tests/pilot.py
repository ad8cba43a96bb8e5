"""Helpers shared by the Pilot tests (tests/tui, tests/kernel, tests/scenarios)."""

from __future__ import annotations

import time


async def wait_for(pilot, condition, timeout: float = 10.0) -> bool:
    """Let the app run until `condition()` holds; False after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await pilot.pause(0.05)
        if condition():
            return True
    return False
