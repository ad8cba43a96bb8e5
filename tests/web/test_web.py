"""`auditop web`: a real server and a real headless browser (Debian's
chromium). The page loads and shows the demo; Ctrl-C stops the server and
every auditop it started; it listens on loopback unless told otherwise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.web.browser import CHROMIUM, Browser

pytest.importorskip("textual_serve", reason="auditop web needs textual-serve "
                    "(pip install 'auditop[web]')")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(sid: int) -> list[str]:
    """Command lines of the processes in session `sid` (the server's own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


class Server:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "auditop", "web", *args, "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        self.banner = self.process.stdout.readline().strip()

    def interrupt(self, timeout: float = 15.0) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for line in session_processes(self.process.pid):  # children left by a failure
            raise AssertionError(f"left running: {line}")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                    "(apt-get install chromium): no browser to load the page in")
def test_the_browser_shows_the_demo_and_ctrl_c_stops_everything(tmp_path):
    server = Server("--demo")
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert server.banner == f"auditop web: serving the demo on {url} (Ctrl-C stops)"
        with Browser() as browser:
            text = browser.show(url, ["auditop", "DEMO", "backlog", "findings"],
                                screenshot=tmp_path / "web-demo.png")
            assert "auditop" in text and "DEMO" in text, text[-2000:]
            assert "backlog" in text and "findings" in text
            assert "f flood" in text.replace("\xa0", " ")  # the demo's keys
            assert any("auditop.web_child" in line and "--demo" in line for line in
                       session_processes(server.process.pid))  # one auditop per tab
            assert (tmp_path / "web-demo.png").stat().st_size > 10_000
        assert server.interrupt() == 0
        assert not session_processes(server.process.pid)
        assert "Traceback" not in server.process.stderr.read()
    finally:
        server.kill()


def test_it_listens_on_loopback_only_by_default():
    server = Server("--demo")
    try:
        assert f"http://127.0.0.1:{server.port}" in server.banner
        listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
        ours = [row.split()[1] for row in listening
                if row.split()[3] == "0A" and row.split()[1].endswith(f":{server.port:04X}")]
        assert ours == [f"0100007F:{server.port:04X}"]  # 127.0.0.1, not 0.0.0.0
        assert server.interrupt() == 0
    finally:
        server.kill()


def test_live_mode_in_the_browser_is_read_only():
    from auditop.commands.web import web_command
    command, what = web_command(demo=False, replay_file=None)
    assert command[-1] == "--read-only" and "read-only" in what
    assert web_command(demo=True, replay_file=None)[0][-1] == "--demo"


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "auditop", "web", "--demo", "--port",
                                 str(port)], cwd=ROOT, capture_output=True, text=True,
                                timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_web_replay_of_a_file_that_is_not_a_recording(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    result = subprocess.run([sys.executable, "-m", "auditop", "web", "--replay", str(bad)],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "not an auditop recording" in result.stderr
    assert result.stderr.count("\n") == 1
