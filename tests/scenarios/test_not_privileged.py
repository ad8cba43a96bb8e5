"""Scenario 6, not privileged: every command run without CAP_AUDIT_CONTROL
(`setpriv --bounding-set=-audit_control`, so the kernel answers EPERM exactly
as it does to an ordinary user) while the lab's auditd runs. Each exits with
one clear line and no traceback, the TUI shows its not-privileged screen,
and nothing in the kernel changes. auditctl, the reference, refuses the same
way ("You must be root", exit 4)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.kernel.conftest import run_auditop
from tests.prom import free_port
from tests.scenarios.lab import CHECKED, auditctl_status

DROP = ["setpriv", "--inh-caps=-audit_control", "--bounding-set=-audit_control"]

COMMANDS = {
    "status": (("status",), 1),
    "status --json": (("status", "--json"), 1),
    "check": (("check",), 3),
    "set": (("set", "backlog_limit", "128", "--yes"), 1),
    "record": (("record", "--duration", "1"), 1),
    "status --format prometheus": (("status", "--format", "prometheus"), 1),
    "exporter": (("exporter", "--listen", "127.0.0.1:@PORT@"), 1),
    "exporter --textfile": (("exporter", "--textfile", "@TMP@/never.prom"), 1),
}


def settings() -> dict[str, int]:
    status = auditctl_status()
    return {name: status[name] for name in CHECKED if name != "lost"}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_says_what_it_needs(lab, name, tmp_path):
    args, code = COMMANDS[name]
    if args[0] == "record":
        args = (*args, "--output", str(tmp_path / "never.jsonl"))
    args = tuple(a.replace("@TMP@", str(tmp_path)).replace("@PORT@", str(free_port()))
                 for a in args)
    before = settings()
    result = run_auditop(*args, drop_audit_control=True)
    text = (result.stdout + result.stderr).strip()
    assert result.returncode == code, text
    assert len(text.splitlines()) == 1, text
    assert "CAP_AUDIT_CONTROL" in text and "root" in text
    assert "Traceback" not in text
    if name == "check":
        assert text.startswith("AUDIT UNKNOWN - ")
    else:
        assert text.startswith("auditop: ")
    assert not (tmp_path / "never.jsonl").exists() and not (tmp_path / "never.prom").exists()
    assert settings() == before


def test_the_reference_refuses_the_same_way(lab):
    result = subprocess.run([*DROP, "auditctl", "-s"], capture_output=True, text=True,
                            timeout=15)
    assert result.returncode == 4
    assert "You must be root" in result.stdout + result.stderr


PILOT = textwrap.dedent("""
    import asyncio
    from auditop.sources.live import LiveSource
    from auditop.tui.app import AuditopApp
    from auditop.tui.screens.fatal import FatalScreen

    async def main():
        app = AuditopApp(source_factory=LiveSource)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                # pushed is not yet composed: wait for its text too
                if isinstance(app.screen, FatalScreen) and app.screen.query("#fatal-text"):
                    break
            print("screen", type(app.screen).__name__)
            print(app.screen.query_one("#fatal-text").render().plain)
            await pilot.press("q")
        print("exit", app.return_code)

    asyncio.run(main())
""")


def test_the_tui_shows_its_not_privileged_screen(lab):
    result = subprocess.run([*DROP, sys.executable, "-c", PILOT], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "screen FatalScreen" in result.stdout
    assert "auditop cannot watch the kernel" in result.stdout
    assert "needs CAP_AUDIT_CONTROL: run as root" in result.stdout
    assert "exit 1" in result.stdout  # q quits with NotPrivileged's exit code
