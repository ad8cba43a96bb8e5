"""The TUI with a change log it cannot write: the change is applied and
shown, and a second notice says where and why the log missed it."""

from __future__ import annotations

from .conftest import scripted_app


async def test_a_change_log_that_cannot_be_written_is_one_notice(tmp_path):
    (tmp_path / "file").write_text("")
    log = tmp_path / "file" / "changes.jsonl"  # below a file: never writable
    app = scripted_app(change_log=log)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("plus", "y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.source.writes == [("backlog_limit", 16384)]
        messages = [n.message for n in app._notifications]
        assert any("8192 -> 16384 (read back from the kernel)" in m for m in messages)
        assert f"the change log could not be written: {log}: Not a directory" in messages
