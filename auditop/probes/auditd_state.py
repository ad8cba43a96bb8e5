"""auditd's own state report: its plugin queue, logging and disk state.

auditd writes the report when asked (SIGCONT, audit-userspace
`cont_handler`): 3.0.x and up to 4.1.1 to /var/run/auditd.state, 4.1.2+ to
/run/audit/auditd.state, and from 4.0.5 also every `report_interval`. Lines
are `name = value` (yes/no for flags), except three that 3.x prints without
the `=` ("Logging partition free space 45565 MB", "space_left setting 75 MB",
"admin_space_left setting 50 MB"; 4.x adds it) and 3.1+'s glibc memory lines
("glibc arena (total memory) is: 244 KB, was: 244 KB"). Lines this module
does not know are kept in `extra`; lines it cannot read in `damaged`.

Asking for a report is a signal, and SIGCONT also resumes a stopped
process: `request_state` refuses for an auditd in state T/t.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from auditop.core.model import AuditdConfig, AuditdProcess, AuditdState

STATE_PATH_4 = "/run/audit/auditd.state"  # 4.1.2+ (--runstatedir)
STATE_PATH_3 = "/var/run/auditd.state"  # 3.0.x .. 4.1.1
DEFAULT_MAX_AGE_S = 30.0
AUDITCTL_TIMEOUT_S = 5.0
# `auditctl --signal state` exists from 3.1.1 (3.0.9 says "unsupported").
AUDITCTL_SIGNAL_SINCE = (3, 1, 1)

_YES_NO = {"yes": True, "no": False}
# 3.x's lines without " = ": "<name> <number> <unit>".
_UNIT_VALUE = re.compile(r"^(?P<name>\D+?) (?P<value>\d+ ?[KMGT]i?B)$")


# Report line name (lower-cased) -> (field, how to read the value).
_FIELDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "audit version": ("version", str),
    "current time": ("current_time", str),
    "time": ("current_time", str),  # 2.8's name for it
    "process priority": ("priority", int),
    "writing to logs": ("writing_to_logs", _YES_NO.__getitem__),
    "current log size": ("log_size", str),
    "max log size": ("max_log_size", str),
    "space left on partition": ("space_left_on_partition", _YES_NO.__getitem__),
    "logging partition free space": ("free_space", str),
    "space_left setting": ("space_left", str),
    "admin_space_left setting": ("admin_space_left", str),
    "logging suspended": ("logging_suspended", _YES_NO.__getitem__),
    "file system space action performed": ("space_action_performed", _YES_NO.__getitem__),
    "admin space action performed": ("admin_space_action_performed", _YES_NO.__getitem__),
    "disk error detected": ("disk_error", _YES_NO.__getitem__),
    "number of active plugins": ("plugins_active", int),
    "current plugin queue depth": ("plugin_queue_depth", int),
    "max plugin queue depth used": ("plugin_queue_max_depth", int),
    "plugin queue size": ("plugin_queue_size", int),
    "plugin queue overflow detected": ("plugin_queue_overflow", _YES_NO.__getitem__),
    "plugin queueing suspended": ("plugin_queueing_suspended", _YES_NO.__getitem__),
    "listening for network connections": ("listening", _YES_NO.__getitem__),
}


def split_line(line: str) -> tuple[str, str] | None:
    """(name, value) of one report line, or None if it has neither form."""
    if " = " in line:
        name, value = line.split(" = ", 1)
    elif (match := _UNIT_VALUE.match(line)) is not None:
        name, value = match.group("name"), match.group("value")
    elif " is: " in line:  # glibc memory lines
        name, value = line.split(" is: ", 1)
    else:
        return None
    name, value = name.strip(), value.strip()
    return (name, value) if name else None


def parse_state(text: str, path: str = "", mtime: float = 0.0) -> AuditdState:
    """An AuditdState from report text; never raises on bad lines."""
    values: dict[str, object] = {}
    extra: dict[str, str] = {}
    damaged: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        pair = split_line(line)
        if pair is None:
            damaged.append(line)
            continue
        name, value = pair
        known = _FIELDS.get(name.lower())
        if known is None:
            extra[name] = value
            continue
        attr, read = known
        try:
            values[attr] = read(value)
        except (KeyError, ValueError):  # "maybe" for yes/no, "12x" for a number
            damaged.append(line)
    return AuditdState(path=path, mtime=mtime, extra=MappingProxyType(extra),
                       damaged=tuple(damaged), **values)


def state_paths() -> tuple[str, ...]:
    """Where auditd writes its report, newest layout first."""
    return (STATE_PATH_4, STATE_PATH_3)


def read_state(path: str | None = None, max_age_s: float = DEFAULT_MAX_AGE_S, *,
               now: float | None = None) -> AuditdState | None:
    """The freshest report (of `path`, or of every state_paths() entry),
    or None if there is none, it is unreadable, or older than max_age_s: a
    stale report describes an auditd that may be long gone."""
    now = time.time() if now is None else now
    candidates = []
    for candidate in (path,) if path else state_paths():
        try:
            candidates.append((os.stat(candidate).st_mtime, candidate))
        except OSError:
            continue  # absent: this auditd uses the other path, or never wrote one
    for mtime, candidate in sorted(candidates, reverse=True):
        if now - mtime > max_age_s:
            return None
        try:
            with open(candidate, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        return parse_state(text, candidate, mtime)
    return None


# Whose report it is: one written before the running auditd started is a
# previous auditd's (/proc start times are rounded to the boot second).
START_SLACK_S = 2.0
_cache: dict[str, tuple[tuple[int, int, int], AuditdState]] = {}


def max_age(config: AuditdConfig | None) -> float:
    """How old a report may be and still be shown: DEFAULT_MAX_AGE_S, or
    two report_intervals (auditd 4.0.5+ writes one every report_interval)."""
    interval = config.report_interval if config is not None else None
    return max(DEFAULT_MAX_AGE_S, 2.0 * interval + 5.0) if interval else DEFAULT_MAX_AGE_S


def fresh_state(auditd: AuditdProcess | None, config: AuditdConfig | None, *,
                now: float | None = None, paths: tuple[str, ...] | None = None
                ) -> AuditdState | None:
    """The newest report the running auditd wrote, if it is fresh (max_age);
    None without an auditd. Costs a stat() per path; the file is read and
    parsed only when it changed. Never asks auditd for one."""
    if auditd is None:
        return None
    newest: tuple[os.stat_result, str] | None = None
    for path in paths or state_paths():
        try:
            st = os.stat(path)
        except OSError:
            continue
        if newest is None or st.st_mtime > newest[0].st_mtime:
            newest = (st, path)
    if newest is None:
        return None
    st, path = newest
    now = time.time() if now is None else now
    if now - st.st_mtime > max_age(config):
        return None
    if auditd.start_time is not None and st.st_mtime < auditd.start_time - START_SLACK_S:
        return None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _cache.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    state = parse_state(text, path, st.st_mtime)
    _cache[path] = (key, state)
    return state


def report_written_since(since: float, paths: tuple[str, ...] | None = None) -> bool:
    """Whether a report was written at or after `since` (epoch seconds;
    file times are as coarse as the kernel's tick, hence the 50 ms)."""
    for path in paths or state_paths():
        try:
            if os.stat(path).st_mtime >= since - 0.05:
                return True
        except OSError:
            continue
    return False


# ------------------------------------------------------------ asking auditd

def parse_version(text: str | None) -> tuple[int, ...] | None:
    """(3, 0, 9) from "3.0.9", "1:3.0.9-1" (Debian) or "auditctl version 3.0.9"."""
    if not text:
        return None
    match = re.search(r"(?:^|[\s:])(\d+)\.(\d+)(?:\.(\d+))?", text)
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


@dataclass(frozen=True, slots=True)
class StatePlan:
    """How to ask auditd for a report: "sigcont", "auditctl" or "refuse"."""

    action: str
    reason: str


def plan_state_request(pid: int | None, process_state_letter: str | None,
                       version: str | None) -> StatePlan:
    """Decide, without doing anything, how to ask auditd `pid` for a report."""
    if pid is None or pid <= 1:  # 0 and -1 would signal whole process groups
        return StatePlan("refuse", f"no auditd pid to ask (pid {pid})")
    state = (process_state_letter or "").strip()[:1]
    if state in ("T", "t"):
        return StatePlan("refuse", f"auditd (pid {pid}) is stopped (state {state}): "
                                   "SIGCONT would resume it, so no report is asked for")
    if state in ("Z", "X", "x"):
        return StatePlan("refuse", f"auditd (pid {pid}) is exiting (state {state})")
    if not state:
        return StatePlan("refuse", f"auditd (pid {pid}) state unknown: not signalling it")
    parsed = parse_version(version)
    if parsed is not None and parsed >= AUDITCTL_SIGNAL_SINCE:
        return StatePlan("auditctl", "auditctl --signal state")
    # 3.0.x (and an unknown version: every auditd since 2.x dumps on SIGCONT).
    return StatePlan("sigcont", f"SIGCONT to auditd (pid {pid})")


def proc_status(pid: int, proc_root: str = "/proc") -> tuple[str, str] | None:
    """(comm, state letter) of `pid` now, or None if it is gone."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat"), "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    open_paren, close_paren = text.find("("), text.rfind(")")
    fields = text[close_paren + 1:].split()
    if open_paren < 0 or close_paren < open_paren or not fields:
        return None
    return text[open_paren + 1:close_paren], fields[0]


def _run_auditctl(argv: list[str], timeout: float) -> tuple[int, str]:
    """auditctl's exit code and first output line. auditctl talks to the
    kernel, which may hold it while the backlog is full, so it gets `timeout`
    seconds and is then left to finish on its own (it cannot be killed while
    held)."""
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return -1, f"auditctl did not finish in {timeout:.0f} s"
    lines = [line for line in out.splitlines() if line.strip()]
    return process.returncode, lines[0] if lines else ""


def request_state(pid: int | None, process_state_letter: str | None, version: str | None, *,
                  kill: Callable[[int, int], None] = os.kill,
                  run: Callable[[list[str], float], tuple[int, str]] = _run_auditctl,
                  status: Callable[[int], tuple[str, str] | None] = proc_status) -> str:
    """Ask auditd for a state report; one line saying what was done or why
    not. Never raises. `kill`, `run` and `status` are injectable so tests
    check the decision without signalling anything. The process is looked at
    again just before signalling: it may have stopped, or the pid been
    reused, since the caller looked."""
    plan = plan_state_request(pid, process_state_letter, version)
    if plan.action == "refuse":
        return f"not asked: {plan.reason}"
    assert pid is not None
    now = status(pid)
    if now is None:
        return f"not asked: auditd (pid {pid}) is gone"
    comm, state = now
    if comm != "auditd":
        return f"not asked: pid {pid} is now {comm!r}, not auditd"
    recheck = plan_state_request(pid, state, version)
    if recheck.action == "refuse":
        return f"not asked: {recheck.reason}"
    if plan.action == "sigcont":
        try:
            kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            return f"not asked: auditd (pid {pid}) is gone"
        except PermissionError:
            return f"not asked: not permitted to signal auditd (pid {pid})"
        return f"asked auditd (pid {pid}) for a state report (SIGCONT)"
    try:
        code, line = run(["auditctl", "--signal", "state"], AUDITCTL_TIMEOUT_S)
    except OSError as exc:
        return f"not asked: cannot run auditctl: {exc.strerror or exc}"
    if code != 0:
        return f"not asked: auditctl --signal state failed: {line or f'exit {code}'}"
    return "asked auditd for a state report (auditctl --signal state)"


# --------------------------------------------------------------- version

def _query(argv: list[str]) -> str | None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=5,
                                stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


@functools.cache
def auditd_version() -> str | None:
    """The installed auditd's version ("3.0.9"), or None; asked once.

    From the package (dpkg, then rpm), else `auditctl -v` (same source
    package). Not `auditd -v`: 3.0.9 has no such option (it prints usage),
    and running the daemon's binary to ask is a risk not worth taking.
    """
    for argv in (["dpkg-query", "-W", "-f", "${Version}", "auditd"],
                 ["rpm", "-q", "--qf", "%{VERSION}", "audit"],
                 ["auditctl", "-v"]):
        parsed = parse_version(_query(argv))
        if parsed is not None:
            return ".".join(str(part) for part in parsed)
    return None
