"""The footer's words say what the keys do, and all of them fit at 80 columns."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from .conftest import scripted_app


async def test_u_is_the_start_value_not_undo_and_every_key_fits_at_80_columns():
    app = scripted_app("overflow")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        keys = list(app.query(FooterKey))
        shown = {key.description: key.key_display for key in keys}
        # u proposes the value found at start, whatever was changed since: not an undo
        assert shown.get("start") == "u" and "undo" not in shown
        assert shown.get("auditd") == "i"
        assert all(key.region.right <= 80 and key.region.width > 0 for key in keys), [
            (key.description, key.region) for key in keys]
