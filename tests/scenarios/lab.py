"""The lab: a private auditd, a scratch directory with its own audit rule,
load producers and auditop recorders, and a teardown that leaves the kernel
exactly as it found it (docs/scenarios.md, ../shared/docs/real-kernel.md).

The Lab never sets failure (2 panics the machine) and never sets enabled to
2 (that locks audit until reboot). It sets backlog_wait_time to 0, or to the
small value a scenario asks for, before anything else, so no load can stall
the machine. Every change goes through auditctl, the reference tool; every
subprocess and every loop is bounded in time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.kernel.conftest import auditctl_status

HERE = Path(__file__).parent
PRODUCER = HERE / "producer.py"
KEY_PREFIX = "auditop-lab-"
LAB_BACKLOG_LIMIT = 64  # small, so a short flood fills it
# Settings the lab may change and restores, in the order it restores them
# (backlog_wait_time last: with the queue empty and audit off, nothing waits).
RESTORED = ("enabled", "backlog_limit", "rate_limit", "backlog_wait_time")
# The whole state the teardown must leave as it found it.
CHECKED = ("enabled", "failure", "pid", "rate_limit", "backlog_limit",
           "backlog_wait_time", "lost", "backlog_wait_time_actual")
AUDITD_START_S = 5.0
AUDITD_STOP_S = 10.0
COMMAND_TIMEOUT_S = 15.0
# Where the private auditd differs from the packaged auditd.conf.
LAB_AUDITD_CONF = {
    "log_file": "@LAB@/log/audit.log",
    "plugin_dir": "@LAB@/etc/plugins.d",
    "max_log_file": "8",  # MiB
    "num_logs": "2",
    "max_log_file_action": "ROTATE",
    "space_left": "75",
    "space_left_action": "IGNORE",
    "admin_space_left": "50",
    "admin_space_left_action": "IGNORE",
    "disk_full_action": "IGNORE",
    "disk_error_action": "IGNORE",
    "write_logs": "yes",
    "log_group": "root",
    "local_events": "yes",
}
# A wait budget above this is not "small": with the queue full every audited
# syscall would sleep that long (real-kernel.md, rule 3).
MAX_LAB_WAIT_TIME_S = 2.0


class LabRefused(Exception):
    """The machine is in a state where loading the kernel is not safe."""


def missing_capability() -> str | None:
    """Why this machine cannot run the lab at all (a skip), or None."""
    if os.geteuid() != 0:
        return "the lab needs root (CAP_AUDIT_CONTROL and auditd)"
    for tool in ("auditctl", "auditd"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install -y auditd)"
    return None


def auditctl(*args: str, check: bool = True,
             timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
    result = subprocess.run(["auditctl", *args], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(f"auditctl {' '.join(args)} failed ({result.returncode}): "
                           f"{result.stdout}{result.stderr}".strip())
    return result


def auditd_pids() -> list[int]:
    """Every process named auditd, zombies excluded."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        state = stat[stat.rfind(")") + 2:][:1]
        if comm == "auditd" and state != "Z":
            found.append(int(name))
    return found


def process_state(pid: int) -> str | None:
    """One letter from /proc/<pid>/stat, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2:][:1]


def wait_until(predicate: Callable[[], bool], timeout: float,
               step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@dataclass
class Recording:
    """An `auditop record` run: its process, then its JSON lines."""

    path: Path
    process: subprocess.Popen
    lines: list[dict] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None

    @property
    def windows(self) -> list[dict]:
        return self.lines

    def written(self) -> int:
        """How many windows the running recorder has written so far."""
        try:
            return self.path.read_text().count("\n")
        except FileNotFoundError:
            return 0

    def wait_for_windows(self, count: int, timeout: float = 10.0) -> None:
        """Until the recorder has written `count` windows (a loaded machine
        can take a second to start it: a fixed sleep then races it)."""
        if not wait_until(lambda: self.written() >= count, timeout):
            raise AssertionError(f"auditop record wrote {self.written()} windows in "
                                 f"{timeout} s, not {count}")

    def finish(self, timeout: float) -> Recording:
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.stdout, self.stderr = self.process.communicate()
            raise AssertionError(f"auditop record did not end within {timeout} s")
        self.returncode = self.process.returncode
        text = self.path.read_text() if self.path.exists() else ""
        self.lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        return self


class Lab:
    """Use as a context manager (the `lab` fixture does) while holding the
    kernel lock. `wait_time` is the backlog_wait_time during the lab, in
    jiffies: 0 (records over the limit are dropped at once) unless a
    scenario needs the kernel to make senders wait."""

    def __init__(self, wait_time: int = 0, backlog_limit: int = LAB_BACKLOG_LIMIT,
                 hz: int = 250) -> None:
        if wait_time > MAX_LAB_WAIT_TIME_S * hz:
            raise ValueError(f"backlog_wait_time {wait_time} is not small")
        self.wait_time = wait_time
        self.backlog_limit = backlog_limit
        self.key = f"{KEY_PREFIX}{os.getpid()}"
        self.scratch: Path | None = None
        self.saved: dict[str, int] = {}
        self.auditd: subprocess.Popen | None = None  # the current private auditd
        self.started_auditds: list[subprocess.Popen] = []
        self.producers: list[subprocess.Popen] = []
        self.recordings: list[Recording] = []
        self.events: list[tuple[float, str]] = []  # (wall clock, what the lab did)
        self.notes: dict[str, object] = {}  # numbers measured, printed at the end
        self._rule_added = False
        self._tmp: Path | None = None
        self.conf_dir: Path | None = None

    # -- setting up ----------------------------------------------------------

    def __enter__(self) -> Lab:
        self.refuse_if_unsafe()
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refuse_if_unsafe(self) -> None:
        status = auditctl_status()
        if status.get("failure") == 2:
            raise LabRefused("failure is 2 (panic): one lost record would crash this "
                             "machine; the lab loses records on purpose")
        if status.get("enabled") == 2:
            raise LabRefused("audit is locked (enabled 2): the lab cannot change "
                             "settings or rules until reboot")
        if status.get("pid"):
            raise LabRefused(f"another auditd is registered with the kernel (pid "
                             f"{status['pid']}); the lab needs a private one: stop it first")
        if others := auditd_pids():
            raise LabRefused(f"another auditd is running (pid {', '.join(map(str, others))}); "
                             "the lab needs a private one: stop it first")
        if KEY_PREFIX in auditctl("-l").stdout:
            raise LabRefused("rules of an earlier lab are still loaded (auditctl -l | grep "
                             f"{KEY_PREFIX}); delete them with auditctl -d")

    def _setup(self) -> None:
        self.saved = {name: auditctl_status()[name] for name in CHECKED}
        # Rule 3 first: nothing may wait the default 60 s once the queue fills.
        auditctl("--backlog_wait_time", str(self.wait_time))
        auditctl("-b", str(self.backlog_limit))
        auditctl("-r", "0")
        self._tmp = Path(tempfile.mkdtemp(prefix="auditop-lab-"))
        self.scratch = self._tmp / "scratch"
        self.scratch.mkdir()
        (self.scratch / "load").write_text("audited\n")
        self._write_auditd_conf()
        self.start_auditd()
        auditctl("-e", "1")
        auditctl(*self._rule("-a"))
        self._rule_added = True
        self.event("ready")

    def _write_auditd_conf(self) -> None:
        """A private auditd.conf (auditd -c takes its directory): the lab's
        records go to a log in the lab's directory, never into the machine's
        /var/log/audit, whose real records floods would rotate away; no
        plugins. The rest is the packaged configuration."""
        conf_dir = self._tmp / "etc"
        (conf_dir / "plugins.d").mkdir(parents=True)
        (self._tmp / "log").mkdir()
        lines = []
        packaged = Path("/etc/audit/auditd.conf")
        if packaged.exists():
            lines = [line for line in packaged.read_text().splitlines()
                     if line.split("=")[0].strip() not in LAB_AUDITD_CONF]
        lines += [f"{key} = {value}" for key, value in LAB_AUDITD_CONF.items()]
        text = "\n".join(lines).replace("@LAB@", str(self._tmp)) + "\n"
        conf = conf_dir / "auditd.conf"
        conf.write_text(text)
        conf.chmod(0o640)  # auditd refuses a config others may write
        self.conf_dir = conf_dir

    def _rule(self, action: str) -> list[str]:
        return [action, "always,exit", "-F", "arch=b64", "-S", "openat",
                "-F", f"dir={self.scratch}", "-k", self.key]

    # -- auditd --------------------------------------------------------------

    def start_auditd(self) -> int:
        """Start a private auditd in the foreground (-n, so it stays our child
        and is reaped here) and wait until the kernel has it registered."""
        log = open(self._tmp / f"auditd-{len(self.started_auditds)}.log", "w")
        with log:
            process = subprocess.Popen(["auditd", "-n", "-c", str(self.conf_dir)],
                                       stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.started_auditds.append(process)
        self.auditd = process
        if not wait_until(lambda: process.poll() is not None
                          or auditctl_status().get("pid") == process.pid,
                          AUDITD_START_S, step=0.1) or process.poll() is not None:
            output = (self._tmp / f"auditd-{len(self.started_auditds) - 1}.log").read_text()
            raise RuntimeError(f"auditd did not register within {AUDITD_START_S} s "
                               f"(exit {process.poll()}): {output.strip()}")
        self.event(f"auditd started pid {process.pid}")
        return process.pid

    @property
    def auditd_pid(self) -> int:
        assert self.auditd is not None
        return self.auditd.pid

    def stop_auditd(self) -> None:
        os.kill(self.auditd_pid, signal.SIGSTOP)
        wait_until(lambda: process_state(self.auditd_pid) in ("T", "t"), 2.0)
        self.event("auditd SIGSTOP")

    def resume_auditd(self) -> None:
        os.kill(self.auditd_pid, signal.SIGCONT)
        self.event("auditd SIGCONT")

    def kill_auditd(self) -> None:
        """SIGKILL, the way a crash or the OOM killer ends it: no goodbye."""
        self.auditd.kill()
        self.auditd.wait(timeout=AUDITD_STOP_S)
        self.event(f"auditd SIGKILL pid {self.auditd.pid}")

    # -- load ------------------------------------------------------------------

    def producer(self, mode: str, *args: object) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(PRODUCER), mode, str(self.scratch), *map(str, args)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.producers.append(process)
        return process

    def flood(self, seconds: float, processes: int = 2,
              max_ops: int = 5_000_000) -> list[subprocess.Popen]:
        self.event(f"flood {seconds} s x {processes}")
        return [self.producer("flood", seconds, max_ops) for _ in range(processes)]

    @staticmethod
    def results(producers: list[subprocess.Popen], timeout: float) -> list[dict]:
        out = []
        for process in producers:
            stdout, _ = process.communicate(timeout=timeout)
            out.append(json.loads(stdout) if stdout.strip() else {})
        return out

    def stop_producers(self) -> None:
        for process in self.producers:
            if process.poll() is None:
                process.kill()

    # -- auditop ---------------------------------------------------------------

    def record(self, seconds: float, interval: float = 1.0,
               sample_rate: float = 20.0, producers: bool = False,
               wrapper: tuple[str, ...] = ()) -> Recording:
        """`auditop record` in the background; `wrapper` runs it through a
        command (setpriv, to drop a capability)."""
        path = self._tmp / f"record-{len(self.recordings)}.jsonl"
        process = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "auditop", "record", "--output", str(path),
             "--duration", str(seconds), "--interval", str(interval),
             "--sample-rate", str(sample_rate), *(["--producers"] if producers else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "NO_COLOR": "1"})
        recording = Recording(path, process)
        self.recordings.append(recording)
        self.event(f"record {seconds} s")
        return recording

    def bursts(self, count: int, *, burst_s: float = 0.15, lead_s: float = 1.5,
               reader_phase_s: float = 0.5, sample_rate: float = 10.0):
        """`count` floods of `burst_s` one second apart after `lead_s` of calm,
        with `auditop record` running and a 1 Hz `auditctl -s` reader
        `reader_phase_s` into each second: (the finished recording, each
        flood's [wall start, wall end, opens], the reader's reads)."""
        recording = self.record(lead_s + count + 1.5, sample_rate=sample_rate)
        start = time.monotonic() + lead_s
        producer = self.producer("bursts", start, count, burst_s, 1.0, 2_000_000)
        with OnceASecond(start + reader_phase_s, count) as reader:
            floods = self.results([producer], timeout=lead_s + count + 10)[0]["bursts"]
        recording.finish(timeout=20)
        return recording, floods, reader.reads

    def status(self) -> dict[str, int]:
        return auditctl_status()

    def wait_for(self, predicate: Callable[[dict[str, int]], bool],
                 timeout: float) -> dict[str, int]:
        """Poll `auditctl -s` until predicate(status) holds; the last status."""
        last: dict[str, int] = {}

        def check() -> bool:
            nonlocal last
            last = auditctl_status()
            return predicate(last)

        wait_until(check, timeout, step=0.1)
        return last

    def event(self, what: str) -> None:
        self.events.append((time.time(), what))

    def note(self, **numbers: object) -> None:
        self.notes.update(numbers)
        print("LAB", " ".join(f"{k}={v}" for k, v in numbers.items()), flush=True)

    # -- teardown --------------------------------------------------------------

    def close(self) -> None:
        """Undo everything, each step on its own so one failure does not
        skip the rest; then check the kernel is as the lab found it."""
        errors: list[str] = []

        def step(name: str, action: Callable[[], object]) -> None:
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - reported below, never swallowed
                errors.append(f"{name}: {exc!r}")

        step("kill producers", self.stop_producers)
        for recording in self.recordings:
            if recording.process.poll() is None:
                step("stop recorder", recording.process.kill)
        # Resume before anything else talks to the kernel: with the queue full
        # and auditd stopped, even our AUDIT_SET would be made to wait.
        for process in self.started_auditds:
            if process.poll() is None:
                step("SIGCONT auditd", lambda p=process: os.kill(p.pid, signal.SIGCONT))
        for process in self.producers:
            step("reap producer", lambda p=process: p.wait(timeout=10))
        for recording in self.recordings:
            step("reap recorder", lambda r=recording: r.process.wait(timeout=10))
        for process in self.started_auditds:
            step(f"stop auditd {process.pid}", lambda p=process: self._end_auditd(p))
        if self._rule_added:
            step("delete rule", lambda: auditctl(*self._rule("-d")))
        if self.saved:
            now = auditctl_status()
            for name in RESTORED:
                if now.get(name) != self.saved[name]:
                    flag = {"enabled": "-e", "backlog_limit": "-b", "rate_limit": "-r",
                            "backlog_wait_time": "--backlog_wait_time"}[name]
                    step(f"restore {name}", lambda f=flag, n=name:
                         auditctl(f, str(self.saved[n])))
            # Counters: reset only what the lab itself made grow from zero.
            now = auditctl_status()
            if self.saved["lost"] == 0 and now.get("lost"):
                step("reset lost", lambda: auditctl("--reset-lost"))
            if self.saved["backlog_wait_time_actual"] == 0 and now.get(
                    "backlog_wait_time_actual"):
                step("reset wait actual",
                     lambda: auditctl("--reset_backlog_wait_time_actual"))
        if self._tmp is not None:
            keep = os.environ.get("AUDITOP_LAB_KEEP")
            if keep:
                print(f"lab files kept in {self._tmp}")
            else:
                step("remove scratch", lambda: shutil.rmtree(self._tmp))
        if self.saved:
            errors.extend(self.restoration_problems())
        if errors:
            raise AssertionError("the lab could not restore the machine:\n  "
                                 + "\n  ".join(errors))

    def _end_auditd(self, process: subprocess.Popen) -> None:
        if process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=AUDITD_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=AUDITD_STOP_S)
        self.event(f"auditd {process.pid} ended ({process.returncode})")

    def restoration_problems(self) -> list[str]:
        problems = []
        now = auditctl_status()
        for name in CHECKED:
            if now.get(name) != self.saved[name]:
                problems.append(f"{name} is {now.get(name)}, was {self.saved[name]}")
        if self.key in auditctl("-l").stdout:
            problems.append(f"rules with key {self.key} are still loaded")
        mine = {p.pid for p in self.started_auditds}
        if left := [pid for pid in auditd_pids() if pid in mine]:
            problems.append(f"auditd of the lab still running: {left}")
        return problems


class OnceASecond:
    """A 1 Hz instantaneous reader, the way `watch -n1 auditctl -s` or a 1 s
    metrics collector sees the kernel: it runs `auditctl -s` at start + k."""

    def __init__(self, start_mono: float, count: int) -> None:
        self.start = start_mono
        self.count = count
        self.reads: list[tuple[float, dict[str, int]]] = []  # (wall clock, status)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for k in range(self.count):
            delay = self.start + k - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.reads.append((time.time(), auditctl_status()))

    def __enter__(self) -> OnceASecond:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=self.count + 10)


# Set by people and daemons, not by load: must read the same in both tools.
SETTINGS = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time")
# Only grow (between two reads nobody resets them here).
COUNTERS = ("lost", "backlog_wait_time_actual")


def compare_with_auditctl(window: float = 0.3, quiet: bool = True) -> dict:
    """`auditop status --json` against the reference, `auditctl -s`, read
    just before and just after it. Settings must be equal; counters must lie
    between the two reference reads (they may move in between); the backlog
    must lie between them when `quiet` (nothing is loading the kernel), else in
    [0, backlog_limit + producers]. Returns the three reads."""
    from tests.kernel.conftest import run_auditop

    before = auditctl_status()
    result = run_auditop("status", "--json", "--window", str(window))
    after = auditctl_status()
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)["status"]
    for name in SETTINGS:
        assert before[name] == after[name], f"{name} changed during the comparison"
        assert ours[name] == before[name], (name, ours[name], before[name])
    for name in COUNTERS:
        assert before[name] <= ours[name] <= after[name], (name, before[name], ours[name],
                                                           after[name])
    if quiet:
        # No load: the backlog only drains (kauditd moves records on, even to
        # its retry queue while auditd is stopped), so it lies between the two.
        low, high = sorted((before["backlog"], after["backlog"]))
        assert low <= ours["backlog"] <= high, (before["backlog"], ours["backlog"],
                                                 after["backlog"])
    else:
        assert 0 <= ours["backlog"] <= before["backlog_limit"] + 64, ours["backlog"]
    return {"auditctl_before": before, "auditop": ours, "auditctl_after": after}


def auditd_socket(pid: int) -> dict[str, int] | None:
    """auditd's row of /proc/net/netlink (NETLINK_AUDIT, portid = its pid)."""
    lines = Path("/proc/net/netlink").read_text().splitlines()
    header = [name.lower() for name in lines[0].split()]
    for line in lines[1:]:
        row = dict(zip(header, line.split()))
        if row.get("eth") == "9" and row.get("pid") == str(pid):
            return {"rmem": int(row["rmem"]), "drops": int(row["drops"])}
    return None


def ids(line: dict) -> set[str]:
    """The finding ids of one record line."""
    return {finding["id"] for finding in line["findings"]}


def between(lines: list[dict], start: float, end: float) -> list[dict]:
    """Record lines whose window lies inside [start, end] (wall clock)."""
    return [line for line in lines
            if line["time"] - line["window"]["seconds"] >= start and line["time"] <= end]
