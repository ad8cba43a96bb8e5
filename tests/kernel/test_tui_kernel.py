"""The TUI on the real kernel: `+`, confirm, read-back, `u`; and the fatal
screen without CAP_AUDIT_CONTROL. Only backlog_limit is ever changed, and
it is restored in a finally (never failure, never enabled)."""

from __future__ import annotations

import asyncio
import json

import pytest

from auditop.kernel.client import AuditClient
from auditop.sources.live import LiveSource
from auditop.tui.app import AuditopApp
from auditop.tui.screens.confirm import ConfirmScreen
from tests.pilot import wait_for

pytestmark = pytest.mark.kernel



def answered_limit(app):
    answered = app.history.last_answered
    return answered.status.backlog_limit if answered else None


def kernel_status():
    with AuditClient() as client:
        return client.get_status()


def kernel_set_limit(value: int) -> None:
    with AuditClient() as client:
        client.set("backlog_limit", value)


async def in_thread(function, *args):
    """pyroute2 opens its socket with an event loop of its own: not in this one."""
    return await asyncio.to_thread(function, *args)


async def test_double_read_back_and_undo_on_the_real_kernel(kernel_lock, tmp_path):
    log = tmp_path / "changes.jsonl"
    before = await in_thread(kernel_status)
    if before.failure == 2 or before.enabled == 2:
        pytest.skip(f"refusing to test: failure={before.failure} enabled={before.enabled}")
    if not before.backlog_limit or before.backlog_limit * 2 > 2**31:
        pytest.skip(f"backlog_limit {before.backlog_limit} cannot be doubled safely")
    original = before.backlog_limit
    try:
        app = AuditopApp(source_factory=LiveSource, change_log=log, interval=0.5)
        async with app.run_test(size=(80, 24)) as pilot:
            assert await wait_for(pilot, lambda: answered_limit(app) == original)
            assert app.snapshot.found.backlog_limit == original

            await pilot.press("plus")
            assert isinstance(app.screen, ConfirmScreen)
            assert app.screen.proposal.new == original * 2
            await pilot.press("y")
            assert await wait_for(pilot, lambda: any(
                f"{original} -> {original * 2} (read back" in n.message
                for n in app._notifications))
            assert (await in_thread(kernel_status)).backlog_limit == original * 2
            assert await wait_for(pilot, lambda: answered_limit(app) == original * 2)

            await pilot.press("u")
            assert isinstance(app.screen, ConfirmScreen)
            assert app.screen.proposal.new == original
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: answered_limit(app) == original)
            assert (await in_thread(kernel_status)).backlog_limit == original
            await pilot.press("q")
    finally:
        if (await in_thread(kernel_status)).backlog_limit != original:
            await in_thread(kernel_set_limit, original)
    after = await in_thread(kernel_status)
    assert (after.failure, after.enabled) == (before.failure, before.enabled)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["old"], e["new"], e["result"]) for e in entries] == [
        (original, original * 2, "ok"), (original * 2, original, "ok")]
