"""Commands given what they cannot use (issue 14): a device or a file without
line breaks for `replay` and `plot` is one line and exit 2 at once; the TUI
started without a terminal (stdout or stderr redirected, stdin not a
terminal) is one line and exit 2 instead of writing its screen into a file
until killed. Run as a person would, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from auditop.commands.common import without_terminal

AUDITOP = [sys.executable, "-m", "auditop"]
TUI_REFUSED = ("auditop: the TUI needs a terminal; for a one-shot reading use "
               "`auditop status`, for a log use `auditop record`")
REPLAY_REFUSED = "auditop: replay needs a terminal; `auditop plot FILE` draws a recording as text"
LINE = {"version": 2, "time": 1795329774.29,
        "window": {"seconds": 1.0, "samples": 10, "failures": 0, "backlog_peak": 65}}


def quick(argv: list[str], **kwargs) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, seconds taken); a hang fails the test."""
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    started = time.monotonic()
    done = subprocess.run(AUDITOP + argv, capture_output=True, text=True, timeout=20,
                          env=env, **kwargs)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps(dict(LINE, time=LINE["time"] + i)) + "\n"
                            for i in range(3)), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["replay", "plot"])
def test_dev_zero_is_refused_at_once(command):
    code, out, err, took = quick([command, "/dev/zero"])
    assert (code, out) == (2, "")
    assert err == "auditop: /dev/zero: not an auditop recording: a character device, not a file\n"
    assert took < 5


@pytest.mark.parametrize("command", ["replay", "plot"])
@pytest.mark.parametrize("byte, why", [
    (b"\0", "binary data, not JSON lines"),
    (b"{", "line 1 is longer than 4 MiB"),
], ids=["zeros", "no-line-break"])
def test_a_big_file_without_lines_is_refused_at_once(tmp_path, command, byte, why):
    path = tmp_path / "big"
    with open(path, "wb") as big:  # 256 MiB, most of it a hole: only the start is read
        big.write(byte * (8 * 1024 * 1024))
        big.truncate(256 * 1024 * 1024)
    code, out, err, took = quick([command, str(path)])
    assert (code, out) == (2, "")
    assert err == f"auditop: {path}: not an auditop recording: {why}\n"
    assert took < 5


def test_replay_of_a_pipe_is_refused_and_plot_reads_it(recording):
    code, out, err, _ = quick(["replay", "/dev/stdin"], stdin=None,
                              input=recording.read_text())  # a pipe: run() feeds it
    assert (code, out) == (2, "")
    assert err.startswith("auditop: /dev/stdin: cannot replay a pipe") and err.count("\n") == 1
    code, out, err, _ = quick(["plot", "/dev/stdin", "--width", "60", "--height", "14"],
                              stdin=None, input=recording.read_text())
    assert code == 0 and err == "" and len(out.splitlines()) == 14


def test_dash_is_stdin_for_plot_and_replay(recording):
    """`plot -` draws what comes down a pipe; `replay -` reads it whole, then
    wants the terminal for its keys: with none, the one line of any replay."""
    code, out, err, _ = quick(["plot", "-", "--width", "60", "--height", "14"], stdin=None,
                              input=recording.read_text())
    assert code == 0 and err == "" and len(out.splitlines()) == 14
    code, out, err, _ = quick(["replay", "-"], stdin=None, input=recording.read_text())
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "auditop: reading the recording from stdin; the replay starts at its end",
        REPLAY_REFUSED]
    code, out, err, _ = quick(["replay", "-"], stdin=None, input="hello\n")
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == ("auditop: stdin: not an auditop recording: no line is a "
                                    "window (line 1: not JSON (Expecting value, column 1))")


def pty_run(argv: list[str], *, stdout_to=None, stdin_null: bool = False,
            stderr_to=None) -> tuple[int, str]:
    """Run with a terminal on the streams not redirected; (exit code, what
    the terminal showed)."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    with open(os.devnull, "rb") as null:
        process = subprocess.Popen(
            AUDITOP + argv, stdin=null if stdin_null else slave,
            stdout=stdout_to or slave, stderr=stderr_to or slave, env=env,
            start_new_session=True)
    os.close(slave)
    try:
        code = process.wait(timeout=20)
        shown = b""
        os.set_blocking(master, False)
        try:
            while chunk := os.read(master, 65536):
                shown += chunk
        except (BlockingIOError, OSError):  # nothing more (EIO: the last writer closed)
            pass
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait()
        os.close(master)
    return code, shown.decode("utf-8", "replace")


@pytest.mark.parametrize("argv", [["--demo"], ["--read-only"], []])
def test_the_tui_with_stdout_in_a_file_is_refused(tmp_path, argv):
    """`auditop --demo > out.txt`: one line on the terminal (stderr), exit 2,
    nothing in the file, before the kernel is asked anything."""
    out = tmp_path / "out.txt"
    with open(out, "wb") as stdout:
        code, shown = pty_run(argv, stdout_to=stdout)
    assert code == 2
    assert shown.replace("\r\n", "\n") == TUI_REFUSED + "\n"
    assert out.read_bytes() == b""


def test_the_tui_with_stdin_not_a_terminal_or_stderr_in_a_file(tmp_path):
    code, shown = pty_run(["--demo"], stdin_null=True)
    assert code == 2 and shown.replace("\r\n", "\n") == TUI_REFUSED + "\n"
    err = tmp_path / "err.txt"
    with open(err, "wb") as stderr:
        code, shown = pty_run(["--demo"], stderr_to=stderr)
    assert code == 2 and shown == ""
    assert err.read_text() == TUI_REFUSED + "\n"  # no escape codes, one line


def test_a_terminal_on_stdin_is_no_recording(recording):
    code, shown = pty_run(["replay", "-"])
    assert code == 2 and shown.replace("\r\n", "\n") == (
        "auditop: stdin: not an auditop recording: a terminal or device (pipe a recording "
        "in: `auditop replay - < FILE`)\n")


def test_the_tui_without_any_terminal(recording):
    code, out, err, took = quick(["--demo"])
    assert (code, out, err) == (2, "", TUI_REFUSED + "\n") and took < 10
    code, out, err, _ = quick(["replay", str(recording)])
    assert (code, out, err) == (2, "", REPLAY_REFUSED + "\n")


def test_a_textual_driver_of_its_own_needs_no_terminal():
    """textual-serve runs each browser's auditop with pipes for streams and
    TEXTUAL_DRIVER naming its web driver (`auditop web`, tests/web)."""
    web = {"TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}
    assert without_terminal(web) is False
    assert without_terminal({}) is (not all(os.isatty(fd) for fd in (0, 1, 2)))
