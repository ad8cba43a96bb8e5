"""The commands that need no kernel, run as a person runs them (a real
process on a pseudo-terminal): `auditop --demo`, `record --demo`, `replay`,
`plot`. One-line errors, exit 2 for a file that is no recording."""

from __future__ import annotations

import fcntl
import json
import os
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.screenshots import recording
from tests.terminal import ANSI, Terminal

ROOT = str(Path(__file__).resolve().parents[2])
AUDITOP = [sys.executable, "-m", "auditop"]


def run(*args: str, size=(80, 24), env=None) -> Terminal:
    return Terminal([*AUDITOP, *args], size=size, env=env, cwd=ROOT)


@pytest.fixture
def overflow(tmp_path) -> Path:
    return recording(tmp_path / "overflow.jsonl")


def test_demo_two_keys_show_the_overflow_and_why():
    """As a new user: `auditop --demo`, stall auditd and flood, and within
    seconds the backlog at its limit, records lost and the warnings."""
    with run("--demo") as term:
        assert term.wait_for("DEMO", "f flood", "findings"), term.text[-2000:]
        term.type("s")
        term.type("f")
        assert term.wait_for("65 / 64", "LOST", "auditd is stopped",
                             "Audit records are being lost", timeout=10), term.text[-3000:]
        term.type("q")
        code, stderr = term.finish()
    assert code == 0 and "Traceback" not in stderr


def test_record_demo_then_plot_tells_the_tours_story(tmp_path):
    out = tmp_path / "demo.jsonl"
    with run("record", "--demo", "--duration", "6", "-o", str(out)) as term:
        code, stderr = term.finish(timeout=30)
    assert code == 0, stderr
    assert "demo: auditd stopped under a flood" in stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) >= 5
    assert lines[0]["window"]["backlog_peak"] <= 5
    assert lines[-1]["window"]["backlog_peak"] == 65 and lines[-1]["window"]["lost_per_s"] > 0
    chart = tmp_path / "demo.txt"
    with run("plot", str(out), "--output", str(chart), "--width", "90", "--height", "26") \
            as term:
        code, stderr = term.finish()
    assert code == 0, stderr
    text = chart.read_text()
    assert "\x1b" not in text and len(text.splitlines()) == 26
    assert {len(line) for line in text.splitlines()} == {90}
    assert "backlog peak vs limit" in text and "records lost per second" in text


def test_plot_fits_the_terminal_and_respects_no_color(overflow):
    with run("plot", str(overflow), size=(100, 30)) as term:
        code, _ = term.finish()
    assert code == 0
    assert b"\x1b[" in term.raw  # colour on a terminal
    drawn = [line for line in term.text.replace("\r", "").splitlines()]
    # two lines fewer than the terminal: with a prompt of one or two lines
    # after it, the title (the first line) stays on the screen
    assert len(drawn) == 28 and max(len(line) for line in drawn) <= 100
    assert drawn[0].strip().startswith("backlog peak vs limit, ")
    with run("plot", str(overflow), size=(100, 30), env={"NO_COLOR": "1"}) as term:
        code, _ = term.finish()
    assert code == 0 and not ANSI.search(term.raw.replace(b"\r\n", b""))
    assert "backlog peak vs limit" in term.text


def test_replay_opens_the_recording_and_quits(overflow):
    with run("replay", str(overflow), "--speed", "10") as term:
        assert term.wait_for("2023-11-14", "replay: no kernel changes", "→ forward"), \
            term.text[-2000:]
        term.type("q")
        code, stderr = term.finish()
    assert code == 0 and stderr == ""


class PipedTerminal(Terminal):
    """stdin a pipe fed `data` (then closed), stdout and stderr the terminal,
    which is the controlling one: `zcat rec.jsonl.gz | auditop replay -`."""

    def __init__(self, argv: list[str], *, data: bytes, **kwargs) -> None:
        super().__init__(argv, **kwargs)
        self.data = data

    def __enter__(self) -> PipedTerminal:
        master, slave = os.openpty()
        columns, lines = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.process = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=slave, stderr=slave, env=self.env,
            cwd=self.cwd, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(1, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.master = master
        self.process.stdin.write(self.data)
        self.process.stdin.close()
        return self


def test_replay_of_stdin_reads_it_whole_then_takes_keys_from_the_terminal(overflow):
    argv = [*AUDITOP, "replay", "-", "--from", "22:13:30", "--to", "22:13:50"]
    with PipedTerminal(argv, data=overflow.read_bytes(), cwd=ROOT, env={"TZ": "UTC"}) as term:
        assert term.wait_for("22:13:30  1/21", "replay: no kernel changes", "j jump"), \
            term.text[-2000:]
        term.type("\x1b[1;2C")  # shift+right: the end of the stretch, --to
        assert term.wait_for("22:13:50  21/21"), term.text[-2000:]
        term.type("q")
        code, stderr = term.finish()
    assert code == 0 and stderr == ""
    assert "reading the recording from stdin" in term.text


def test_replay_reports_damaged_lines_after_the_screen_closes(tmp_path, overflow):
    damaged = tmp_path / "damaged.jsonl"
    good = overflow.read_text().splitlines()
    damaged.write_text("\n".join(good[:2] + ["{oops"] + good[2:] + ['{"version": 2, "ti']))
    with run("replay", str(damaged)) as term:
        assert term.wait_for("2 damaged lines skipped"), term.text[-2000:]
        term.type("q")
        code, stderr = term.finish()
    assert code == 0
    assert stderr.splitlines() == [
        f"auditop: {damaged}: line 3: not JSON (Expecting property name enclosed in double "
        "quotes, column 2) (skipped)",
        f"auditop: {damaged}: line 61: cut short (the recorder stopped while writing it) "
        "(skipped)"]


@pytest.mark.parametrize("command", ["replay", "plot"])
def test_a_file_that_is_not_a_recording_is_one_line_and_exit_2(tmp_path, command):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    for path in (notes, tmp_path / "missing.jsonl"):
        with run(command, str(path)) as term:
            code, stderr = term.finish()
        assert code == 2, stderr
        assert len(stderr.splitlines()) == 1 and stderr.startswith("auditop: ")
        assert "Traceback" not in stderr


@pytest.mark.parametrize("args, says", [
    (("plot", "x.jsonl", "--width", "10"), "must be a whole number from 40 to 1000"),
    (("plot", "x.jsonl", "--height", "many"), "not a whole number"),
    (("replay", "x.jsonl", "--speed", "0"), "must be a number from 0.01 to 10000"),
    (("web", "--port", "70000"), "must be a whole number from 1 to 65535"),
    (("web", "--demo", "--replay", "x.jsonl"), "not allowed with argument"),
])
def test_bad_options_are_one_line(args, says):
    with run(*args) as term:
        code, stderr = term.finish()
    assert code == 2 and says in stderr and len(stderr.splitlines()) == 1, stderr
