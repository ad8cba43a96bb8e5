"""A command on a pseudo-terminal of a given size, as a person runs it:
what it draws (control sequences stripped), keys typed into it, its exit
code and what it printed after its screen closed. stdout and stderr are
both the terminal (Textual draws on stderr). Shared by the tests of the commands that draw (the
demo, replay, plot) and the unprivileged-user test."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]"  # CSI
                  rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
                  rb"|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class Terminal:
    """Use as a context manager; the process group is killed on the way out."""

    def __init__(self, argv: list[str], *, size: tuple[int, int] = (80, 24),
                 env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.argv, self.size = argv, size
        self.env = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        self.cwd = cwd
        self.raw = b""
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Terminal:
        master, slave = os.openpty()
        columns, lines = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self.process = subprocess.Popen(
            self.argv, stdin=slave, stdout=slave, stderr=slave, env=self.env,
            cwd=self.cwd, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.master = master
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        os.close(self.master)

    @property
    def text(self) -> str:
        return ANSI.sub(b"", self.raw).decode("utf-8", "replace")

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the process has gone
                    return
                if not chunk:
                    return
                self.raw += chunk

    def wait_for(self, *words: str, timeout: float = 20.0) -> bool:
        """Read until everything drawn since the last call holds all `words`."""
        start = len(self.raw)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read(0.2)
            drawn = ANSI.sub(b"", self.raw[start:]).decode("utf-8", "replace")
            if all(word in drawn for word in words):
                return True
        return False

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 15.0) -> tuple[int, str]:
        """(exit code, what it printed after its full screen closed, or all
        it printed if it drew none) once the process has ended."""
        end = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < end:
            self.read(0.1)
        code = self.process.wait(timeout=max(end - time.monotonic(), 0.1))
        self.read(0.2)
        after = self.raw.rsplit(b"\x1b[?1049l", 1)[-1]
        return code, ANSI.sub(b"", after).decode("utf-8", "replace").replace("\r\n", "\n")
