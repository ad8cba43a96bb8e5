"""A `[keymap]` in the config file, applied with Textual's keymap support: the
new key works, the old one does not, and the footer and the help screen show
the keys Textual has bound."""

from __future__ import annotations

import re

from textual.widgets._footer import FooterKey

from auditop.config import load_settings
from auditop.tui.screens.help import HelpScreen

from .conftest import scripted_app


def app_from_config(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    settings = load_settings(path=path)
    return scripted_app(keymap=settings.keymap)


def footer_keys(app) -> dict[str, str]:
    """description -> key as the footer shows it."""
    return {key.description: key.key_display for key in app.query(FooterKey)}


def help_text(app) -> str:
    assert isinstance(app.screen, HelpScreen)
    return app.screen.query_one("#help-text").render().plain


async def test_pause_remapped_to_z(tmp_path):
    app = app_from_config(tmp_path, '[keymap]\npause = "z"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        assert app.paused is False  # p no longer pauses
        await pilot.press("z")
        assert app.paused is True
        await pilot.press("z")
        assert app.paused is False
        await pilot.pause()
        keys = footer_keys(app)
        assert keys["pause"] == "z" and "p" not in keys.values()
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        assert re.search(r"\n  z +pause / resume the display", text)
        assert not re.search(r"\n  p +", text)
        assert re.search(r"\n  \? +this help", text)  # the others keep their keys


async def test_default_keys_in_footer_and_help(tmp_path):
    app = app_from_config(tmp_path, "")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert footer_keys(app)["pause"] == "p"
        await pilot.press("p")
        assert app.paused is True
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        for key, what in [("q", "quit auditop"), ("p", "pause"), (r"\+", "propose doubling"),
                          ("-", "propose halving"), (r"\[", "shorter"), ("]", "longer")]:
            assert re.search(rf"\n  {key} +{what}", text), key


async def test_several_keys_for_one_binding(tmp_path):
    app = app_from_config(tmp_path, '[keymap]\nquit = "ctrl+q,Q"\n'
                                    'interval.longer = "full_stop"\n')
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        # the interval keys are one group in the footer ("[ ] window"): keys, no descriptions
        shown = [key.key_display for key in app.query(FooterKey)]
        assert "." in shown and "]" not in shown and "[" in shown
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        assert re.search(r"\n  \^q / Q +quit auditop", text)
        assert re.search(r"\n  \. +longer display interval", text)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("Q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running
