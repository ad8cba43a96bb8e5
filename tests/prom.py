"""Processes for the exporter tests: `auditop exporter` as a user runs it, and a
real Prometheus (Debian's binary) on loopback with a temporary data directory.
Both are context managers that end their process in any case, by its pid,
and every wait is bounded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = shutil.which("prometheus")
STOP_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _end(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_S)


class Exporter:
    """`python -m auditop exporter ARGS`, started on enter; its first line read
    (within `ready_s`) before enter returns. `stop()` sends SIGTERM and returns
    the exit code, stdout and stderr."""

    def __init__(self, *args: str, ready_s: float = 15.0, env: dict | None = None) -> None:
        self.args = args
        self.ready_s = ready_s
        self.env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.first_line = ""

    def __enter__(self) -> Exporter:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "auditop", "exporter", *self.args], cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=self.env)
        try:
            self.first_line = _read_line(self.process, self.ready_s)
        except BaseException:
            _end(self.process)
            raise
        return self

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate(timeout=STOP_S)
            raise AssertionError(f"the exporter did not stop within {STOP_S} s")
        return self.process.returncode, out, err

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            _end(self.process, signal.SIGKILL)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    """The first stdout line, or an AssertionError with what it said instead."""
    import selectors
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line from the exporter within {timeout} s")
    line = process.stdout.readline()
    if not line:
        process.wait(STOP_S)
        raise AssertionError(f"the exporter ended ({process.returncode}): "
                             f"{process.stderr.read().strip()}")
    return line.strip()


class Prometheus:
    """Debian's prometheus on 127.0.0.1:<free port>, scraping `targets` every
    `scrape_s` seconds (job "auditop"), with `rules` loaded, data in `workdir`."""

    def __init__(self, workdir: Path, targets: list[str], *, scrape_s: int = 5,
                 rules: Path | None = None, ready_s: float = 30.0) -> None:
        assert PROMETHEUS is not None
        self.workdir, self.targets, self.scrape_s = workdir, targets, scrape_s
        self.rules, self.ready_s = rules, ready_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = workdir / "prometheus.log"

    def __enter__(self) -> Prometheus:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        lines = ["global:", f"  scrape_interval: {self.scrape_s}s",
                 f"  evaluation_interval: {self.scrape_s}s"]
        if self.rules is not None:
            lines += ["rule_files:", f"  - {json.dumps(str(self.rules))}"]
        lines += ["scrape_configs:", "  - job_name: auditop",
                  f"    scrape_interval: {self.scrape_s}s",
                  f"    scrape_timeout: {max(1, self.scrape_s - 1)}s",
                  "    static_configs:", f"      - targets: {json.dumps(self.targets)}"]
        config.write_text("\n".join(lines) + "\n")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}",
                 f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus ended ({self.process.returncode}): "
                                     f"{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready within {self.ready_s} s")

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """An instant query through the HTTP API; the result list."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.load(answer)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def samples(self, metric: str, start: float, end: float) -> list[tuple[float, float]]:
        """The raw (timestamp, value) samples of `metric` scraped in [start, end]."""
        seconds = max(1, int(end - start + 1))
        result = self.query(f"{metric}[{seconds}s]", at=end)
        return [(float(t), float(v)) for series in result for t, v in series["values"]
                if t >= start]

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            _end(self.process)
