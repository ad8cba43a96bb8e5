"""`auditop check` remembers the previous run: what happened between two runs.

A monitoring agent runs `check` every minute or five, and each run samples
one second: a burst that lost records 30 s before is gone from the window.
So each run keeps the kernel's counters in a small JSON file in the state
directory (platformdirs, per user, beside the change log) and the next run
compares:

* records lost since the last run (the kernel's `lost` is a u32: a value
  below the previous one close to 2**32 is a wrap, not a reset);
* the lost counter going down: `auditctl --reset-lost` (same boot) or a
  reboot (/proc/sys/kernel/random/boot_id changed);
* auditd restarted (its pid, or the start time of the same pid, changed).

Pure: `compare(previous, now)` -> Between. The file side (`load`, `save`,
`between_runs`) never raises for a state file it cannot read or write: it
says so in one line and the check still answers.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from auditop import paths
from auditop.core.history import Window, u32_wrap_growth
from auditop.core.text import elapsed_text

# Default weights (ints as export/check.py's OK, WARNING, CRITICAL; no import
# cycle: check.py imports this module).
_OK, _WARNING, _CRITICAL = 0, 1, 2

LOST_SINCE = "lost-since-last-check"
COUNTER_RESET = "lost-counter-reset"
AUDITD_RESTARTED = "auditd-restarted"
REBOOTED = "rebooted"
# id -> default weight; `--warn/--crit/--ok ID` reweigh them like findings.
EVENT_WEIGHTS: dict[str, int] = {
    LOST_SINCE: _CRITICAL,  # the audit trail has a hole nobody saw
    COUNTER_RESET: _WARNING,  # the losses before the reset are no longer counted
    AUDITD_RESTARTED: _WARNING,  # a crash, an upgrade, or someone stopping the trail
    REBOOTED: _OK,  # named: what was lost before the reboot cannot be known
}
EVENT_IDS: tuple[str, ...] = tuple(EVENT_WEIGHTS)

U32 = 2**32
# A decrease of lost is a wrap or a reset by core.history.u32_wrap_growth,
# the rule every reader of a kernel counter uses.
RESTART_TOLERANCE_S = 2.0  # /proc start times are jiffies since boot: rounding
STATE_VERSION = 1
MAX_STATE_BYTES = 64 * 1024
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"
STATE_FILE_NAME = "check.json"


@dataclass(frozen=True, slots=True)
class CheckState:
    """What one run saw at the end of its window."""

    time: float  # wall clock, epoch seconds
    lost: int  # the kernel's lost counter (u32)
    boot_id: str | None = None
    auditd_pid: int | None = None  # the pid the kernel names (0: none registered)
    auditd_start: float | None = None  # that process's start, epoch seconds


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened between two runs; `weight` is the default."""

    id: str
    weight: int
    text: str


@dataclass(frozen=True, slots=True)
class Between:
    """What `check` says about the time since its previous run."""

    events: tuple[Event, ...] = ()
    lost: int | None = None  # records lost since the last run (a floor after a reset)
    span: float | None = None  # seconds since the last run (None: no previous run)
    notes: tuple[str, ...] = ()  # the state file could not be read or written


# -- pure ---------------------------------------------------------------------

def reading(window: Window, boot_id: str | None) -> CheckState | None:
    """The state to keep from this run's window (None: no lost counter read)."""
    status = window.status
    if status is None or status.lost is None:
        return None
    pid = status.pid
    process = window.system.auditd if window.system is not None else None
    start = process.start_time if process is not None and pid and process.pid == pid else None
    return CheckState(time=window.end, lost=status.lost, boot_id=boot_id,
                      auditd_pid=pid, auditd_start=start)


def compare(previous: CheckState | None, now: CheckState) -> Between:
    """The events between `previous` and `now`; nothing for a first run."""
    if previous is None:
        return Between()
    span = now.time - previous.time
    since = f"since the last check {ago_text(span)}"
    rebooted = (previous.boot_id is not None and now.boot_id is not None
                and previous.boot_id != now.boot_id)
    events: list[Event] = []
    lost: int
    if rebooted:
        events.append(Event(REBOOTED, EVENT_WEIGHTS[REBOOTED],
                            f"the machine rebooted {since}: what was lost before "
                            "the reboot is unknown"))
        lost = now.lost
        lost_text = f"at least {records(lost)} lost {since} (counted from the reboot)"
    elif now.lost >= previous.lost:
        lost = now.lost - previous.lost
        lost_text = f"{records(lost)} lost {since}"
    elif (wrapped := u32_wrap_growth(previous.lost, now.lost, span)) is not None:
        lost = wrapped
        lost_text = (f"{records(lost)} lost {since} (the lost counter wrapped past "
                     f"2^32: {previous.lost} -> {now.lost})")
    else:
        lost = now.lost
        why = ("someone ran auditctl --reset-lost" if now.boot_id is not None
               else "auditctl --reset-lost, or a reboot: the boot id is unknown")
        events.append(Event(COUNTER_RESET, EVENT_WEIGHTS[COUNTER_RESET],
                            f"the lost counter went down {since} ({previous.lost} -> "
                            f"{now.lost}: {why}); losses before the reset are not counted"))
        lost_text = f"at least {records(lost)} lost {since} (counted from the reset)"
    if lost > 0:
        events.insert(0, Event(LOST_SINCE, EVENT_WEIGHTS[LOST_SINCE], lost_text))
    if not rebooted and (restart := _restart(previous, now)):
        events.append(Event(AUDITD_RESTARTED, EVENT_WEIGHTS[AUDITD_RESTARTED],
                            f"auditd restarted {since} ({restart})"))
    return Between(events=tuple(events), lost=lost, span=span)


def _restart(previous: CheckState, now: CheckState) -> str | None:
    """How auditd changed between two runs of one boot, if it restarted. A
    start (none before) is a recovery and a stop is the live finding
    auditd-not-running: neither is reported here."""
    before, after = previous.auditd_pid, now.auditd_pid
    if not before or not after:
        return None
    if before != after:
        return f"pid {before} -> {after}"
    if (previous.auditd_start is not None and now.auditd_start is not None
            and abs(now.auditd_start - previous.auditd_start) > RESTART_TOLERANCE_S):
        return f"pid {after} reused by a new auditd"
    return None


def records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


def ago_text(seconds: float) -> str:
    """"4 min 12 s ago", "12 s ago", "2 h 3 min ago", "3 d 4 h ago"; a last
    check dated after now (the clock was set back) says so."""
    if seconds < 0:
        return f"(dated {elapsed_text(-seconds)} ahead of the clock now)"
    return f"{elapsed_text(seconds)} ago"


def to_json(state: CheckState) -> str:
    return json.dumps({"version": STATE_VERSION, **asdict(state)})


class BadState(ValueError):
    """A state file that is no state of this version; str() is one line."""


def from_json(text: str) -> CheckState:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadState(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise BadState("not a JSON object")
    if data.get("version") != STATE_VERSION:
        raise BadState(f"version {data.get('version')!r}, this auditop writes "
                       f"{STATE_VERSION}")
    number = (int, float)
    checks = {"time": lambda v: isinstance(v, number) and not isinstance(v, bool),
              "lost": lambda v: type(v) is int and 0 <= v < U32,
              "boot_id": lambda v: v is None or isinstance(v, str),
              "auditd_pid": lambda v: v is None or (type(v) is int and v >= 0),
              "auditd_start": lambda v: v is None or (isinstance(v, number)
                                                      and not isinstance(v, bool))}
    for name, valid in checks.items():
        if name not in data:
            raise BadState(f"no {name!r}")
        if not valid(data[name]):
            raise BadState(f"{name!r} is {str(data[name])[:40]!r}")
    return CheckState(**{name: data[name] for name in checks})


def one_line(text: str) -> str:
    """A note fit for the check's line: no line breaks, no '|' (perfdata starts there)."""
    return " ".join(text.split()).replace("|", "/")


# -- the file -----------------------------------------------------------------

def default_path() -> Path:
    """The state directory of the change log (auditop/paths.py), not created here."""
    return Path(platformdirs.user_state_dir(paths.APP)) / STATE_FILE_NAME


def read_boot_id(path: str = BOOT_ID_PATH) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read(100).strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def load(path: Path) -> tuple[CheckState | None, str | None]:
    """The previous run's state and a note when the file is there but useless
    (it is then treated as no state, and overwritten by `save`)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):  # nothing there: a first run
        return None, None
    except OSError as exc:
        return None, one_line(f"state file {path} unreadable ({exc.strerror or exc}): "
                              "ignored")
    try:
        if len(raw) > MAX_STATE_BYTES:
            raise BadState(f"over {MAX_STATE_BYTES} bytes")
        return from_json(raw.decode("utf-8")), None
    except UnicodeDecodeError:
        reason = "not UTF-8"
    except BadState as exc:
        reason = str(exc)
    return None, one_line(f"state file {path} damaged ({reason}): ignored")


def save(path: Path, state: CheckState) -> str | None:
    """Write atomically (a temporary file beside it, then os.replace); a note
    when it cannot be written."""
    tmp: str | None = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except FileExistsError:  # the parent is a file: say that, not "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(to_json(state) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        return one_line(f"state not saved to {path} ({exc.strerror or exc}): the next "
                        "check compares with an older run")
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    return None


def between_runs(window: Window, path: Path | None = None,
                 boot_id_path: str = BOOT_ID_PATH) -> Between:
    """Load the previous run's state, compare it with this window, save this one."""
    path = path or default_path()
    now = reading(window, read_boot_id(boot_id_path))
    if now is None:
        return Between(notes=("no lost counter in the kernel's answer: state not kept",))
    previous, load_note = load(path)
    between = compare(previous, now)
    save_note = save(path, now)
    if load_note and not save_note:
        load_note += ", rewritten"
    notes = tuple(n for n in (load_note, save_note) if n)
    return Between(events=between.events, lost=between.lost, span=between.span,
                   notes=notes)
