"""Reading `auditop record` files back (JSON Lines, docs/json.md).

One line per display window. From format version 2 on every line carries
"version"; a line without one is version 1. Keys this reader does not know
are ignored (fields are only ever added within a major version); a line of a
newer version than READ_VERSION is reported and skipped. A damaged line (not
JSON, wrong types, cut short by a killed recorder) is reported as
"line N: why" and skipped. Only a file with no readable window at all (empty,
binary, JSON of another shape) raises NotARecording, with one line to print.

The file is streamed line by line, never held whole, and values that repeat
from line to line (findings, auditd.conf, the auditd process, an unchanged
status or system state) are decoded once and shared, so a 24 h recording at
1 s windows opens in seconds and stays small in memory.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

from auditop.core.findings import SEVERITY_ORDER, Finding
from auditop.core.losses import add_causes
from auditop.core.model import (STATUS_FIELDS, AuditdConfig, AuditdProcess, AuditStatus,
                                BootParams, NetlinkSocketRow, SystemInfo)

READ_VERSION = 2  # the newest line format this reader knows
MAX_LINE = 4 * 1024 * 1024  # bytes; a longer line is damage, not a window
PROBE_LINES = 1_000  # a file whose first this many lines are all unreadable is given up
MAX_PROBLEMS = 200  # reported one by one; the rest are counted in one last line
_CACHE_MAX = 4_096  # distinct findings / parts remembered for sharing


class NotARecording(Exception):
    """The file is not an auditop recording; str() is one line for the user."""


@dataclass(frozen=True, slots=True)
class RecordedWindow:
    line_no: int
    time: float  # wall clock when the window closed
    seconds: float  # the span the rates are measured over
    status: AuditStatus | None  # None: the kernel never answered in the window
    system: SystemInfo | None  # rebuilt from the line's "system" (socket inodes unknown: 0)
    backlog_peak: int | None
    lost: int | None
    lost_per_s: float | None
    netlink_drops_per_s: float | None
    wait_per_s: float | None
    failures: int | None
    samples: int | None
    error: str | None
    findings: tuple[Finding, ...]
    version: int = 1
    # From version 2 (None in a version 1 line).
    held_senders: int | None = None
    held_for: float | None = None
    lost_seconds: float | None = None
    drops_seconds: float | None = None
    wait_seconds: float | None = None
    # Added within version 2 (None in a line written before them): kernel log
    # messages naming why records were lost, per cause id; messages, not records.
    loss_causes: tuple[tuple[str, int], ...] | None = None
    loss_suppressed: int | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    windows: tuple[RecordedWindow, ...]
    problems: tuple[str, ...]  # "line N: why", one per skipped line or part


class _Damaged(ValueError):
    """Why one line is not a window."""


class _Newer(_Damaged):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"format version {version} is newer than this auditop reads "
                         f"(up to {READ_VERSION}): skipped")


class _Binary(_Damaged):
    pass


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Every window of the recording at `path`, and what was skipped."""
    windows: list[RecordedWindow] = []
    problems: list[str] = []
    hidden = 0
    for item in iter_recording(path):
        if isinstance(item, RecordedWindow):
            windows.append(item)
        elif len(problems) < MAX_PROBLEMS:
            problems.append(item)
        else:
            hidden += 1
    if hidden:
        problems.append(f"and {hidden} more problems")
    return Recording(tuple(windows), tuple(problems))


def iter_recording(path: str | os.PathLike[str]) -> Iterator[RecordedWindow | str]:
    """Stream the recording: each window, or a problem ("line N: why") for
    each line skipped. Raises NotARecording (at once for an unreadable or
    binary file, else once it is clear no line is a window)."""
    return (item for _, item in scan_recording(path))


def scan_recording(path: str | os.PathLike[str]) -> Iterator[tuple[int, RecordedWindow | str]]:
    """iter_recording, each item with the byte offset of its line (a
    replay seeks back to it with WindowReader)."""
    def refuse(why: str) -> NotARecording:
        return NotARecording(f"{os.fspath(path)}: not an auditop recording: {why}")

    try:
        stream = open(path, "rb")
    except OSError as error:
        raise NotARecording(f"{os.fspath(path)}: cannot read it: "
                            f"{error.strerror or error}") from None
    decoder = _Decoder()
    found = tried = 0
    first: tuple[int, _Damaged] | None = None
    newest, all_newer = 0, True  # is every unreadable line of a newer format?
    with stream:
        for line_no, offset, raw, complete in _lines(stream):
            try:
                obj = _parse(raw, complete, line_no)
                if obj is None:
                    continue  # a blank line
                window, notes = decoder.window(obj, line_no)
            except _Damaged as damage:
                tried += 1
                if first is None:
                    first = (line_no, damage)
                if not found and isinstance(damage, _Binary) and tried == 1:
                    raise refuse("binary data, not JSON lines") from None
                if isinstance(damage, _Newer):
                    newest = max(newest, damage.version)
                else:
                    all_newer = False
                if not found and tried >= PROBE_LINES:
                    break
                yield offset, f"line {line_no}: {damage}"
                continue
            tried += 1
            found += 1
            yield offset, window
            yield from ((offset, f"line {line_no}: {note}") for note in notes)
    if found:
        return
    if first is None:
        raise refuse("the file is empty")
    if all_newer:
        raise refuse(f"it was written by a newer auditop (format version {newest}; "
                     f"this one reads up to {READ_VERSION})")
    line_no, damage = first
    raise refuse(f"no line is a window (line {line_no}: {damage})")


class WindowReader:
    """Reads single windows back by the offsets scan_recording gave, sharing
    repeated parts between reads like the scan does. Not thread-safe."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._stream = open(path, "rb")
        self._decoder = _Decoder()

    def read(self, offset: int, line_no: int) -> RecordedWindow | None:
        """The window on the line at `offset`; None if that line is no longer
        one (the file changed since it was scanned)."""
        self._stream.seek(offset)
        raw = self._stream.readline(MAX_LINE + 1)
        try:
            obj = _parse(raw if len(raw) <= MAX_LINE else None, raw.endswith(b"\n"), line_no)
            return None if obj is None else self._decoder.window(obj, line_no)[0]
        except _Damaged:
            return None

    def close(self) -> None:
        self._stream.close()


def _lines(stream: BinaryIO) -> Iterator[tuple[int, int, bytes | None, bool]]:
    """(line number, its byte offset, its bytes or None when longer than
    MAX_LINE, whether it ended with a newline)."""
    line_no = offset = 0
    while raw := stream.readline(MAX_LINE + 1):
        line_no += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of it
                raw = stream.readline(MAX_LINE + 1)
                offset += len(raw)
            yield line_no, start, None, True
            continue
        yield line_no, start, raw, raw.endswith(b"\n")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse(raw: bytes | None, complete: bool, line_no: int) -> Any:
    if raw is None:
        raise _Damaged(f"longer than {MAX_LINE // (1024 * 1024)} MiB")
    if b"\0" in raw:
        raise _Binary("binary data, not a JSON line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Binary("not UTF-8 text") from None
    text = text.strip().lstrip("\ufeff") if line_no == 1 else text.strip()
    if not text:
        return None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise _Damaged("not JSON: nested too deeply") from None
    except ValueError as error:
        if not complete:
            raise _Damaged("cut short (the recorder stopped while writing it)") from None
        where = (f", column {error.colno}" if isinstance(error, json.JSONDecodeError)
                 else "")
        message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise _Damaged(f"not JSON ({message}{where})") from None


# -- typed reads --------------------------------------------------------------------

def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise _Damaged(f"{where} is not a count: {_show(value)}")
    return value


def _number(value: Any, where: str, *, required: bool = False) -> float | None:
    if value is None and not required:
        return None
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _Damaged(f"{where} is not a number: {_show(value)}")
    return float(value)


def _rate(value: Any, where: str) -> float | None:
    rate = _number(value, where)
    if rate is not None and rate < 0:
        raise _Damaged(f"{where} is negative: {_show(value)}")
    return rate


def _span(value: Any) -> float:
    seconds = _number(value, "window.seconds", required=True)
    if seconds < 0:
        raise _Damaged(f"window.seconds is negative: {_show(value)}")
    return seconds


def _text(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Damaged(f"{where} is not text: {_show(value)}")


def _causes(value: Any) -> tuple[tuple[str, int], ...] | None:
    """window.loss_causes: {cause id: messages}; None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and type(v) is int and v >= 0 for k, v in value.items()):
        raise _Damaged(f"window.loss_causes is not counts by cause: {_show(value)}")
    return add_causes([value.items()])


def _soft(value: Any, kind: type) -> Any:
    """For the system object: a value of the wrong type is unknown (None)."""
    if kind is int:
        return value if type(value) is int else None
    if kind is float:
        ok = type(value) in (int, float) and math.isfinite(value)
        return float(value) if ok else None
    return value if isinstance(value, kind) else None


class _Decoder:
    """Decodes lines, sharing what repeats between them: a part equal to the
    same part of the line before is not decoded again, and findings,
    processes, configs and common numbers are shared across the file."""

    def __init__(self) -> None:
        self._shared: dict[Any, Any] = {}
        self._numbers: dict[float, float] = {}
        self._last: dict[str, tuple[Any, Any]] = {}  # part -> (its JSON, decoded)

    def _share(self, key: Any, make: Any) -> Any:
        value = self._shared.get(key)
        if value is None:
            if len(self._shared) >= _CACHE_MAX:
                self._shared.clear()
            value = self._shared[key] = make()
        return value

    def _again(self, part: str, raw: Any, decode: Any) -> Any:
        last = self._last.get(part)
        if last is not None and last[0] == raw:
            return last[1]
        value = decode(raw)
        self._last[part] = (raw, value)
        return value

    def _seconds(self, value: float | None) -> float | None:
        if value is None:
            return None
        if len(self._numbers) >= _CACHE_MAX:
            self._numbers.clear()
        return self._numbers.setdefault(value, value)

    def window(self, obj: Any, line_no: int) -> tuple[RecordedWindow, list[str]]:
        if not isinstance(obj, dict):
            raise _Damaged(f"not a JSON object but {_show(obj)}")
        version = obj.get("version", 1)
        if type(version) is not int or version < 1:
            raise _Damaged(f"version is not a format version: {_show(version)}")
        if version > READ_VERSION:
            raise _Newer(version)
        window = obj.get("window")
        if not isinstance(window, dict):
            if "status" in obj and "window" not in obj:
                raise _Damaged('no "window" object: `auditop status --json` output?')
            raise _Damaged('no "window" object')
        findings, notes = self._again("findings", obj.get("findings"), self._findings)
        v2 = version >= 2
        get, rate, seconds = window.get, _rate, self._seconds
        return RecordedWindow(
            line_no=line_no,
            time=_number(obj.get("time"), "time", required=True),
            seconds=seconds(_span(get("seconds"))),
            status=self._again("status", obj.get("status"), self._status),
            system=self._again("system", obj.get("system"), self._system),
            backlog_peak=_count(get("backlog_peak"), "window.backlog_peak"),
            lost=_count(get("lost"), "window.lost"),
            lost_per_s=seconds(rate(get("lost_per_s"), "window.lost_per_s")),
            netlink_drops_per_s=seconds(rate(get("netlink_drops_per_s"),
                                             "window.netlink_drops_per_s")),
            wait_per_s=seconds(rate(get("wait_per_s"), "window.wait_per_s")),
            failures=_count(get("failures"), "window.failures"),
            samples=_count(get("samples"), "window.samples"),
            error=_text(obj.get("error"), "error"),
            findings=findings,
            version=version,
            held_senders=_count(obj.get("held_senders"), "held_senders") if v2 else None,
            held_for=seconds(rate(obj.get("held_for"), "held_for")) if v2 else None,
            lost_seconds=seconds(rate(get("lost_seconds"), "window.lost_seconds"))
            if v2 else None,
            drops_seconds=seconds(rate(get("drops_seconds"), "window.drops_seconds"))
            if v2 else None,
            wait_seconds=seconds(rate(get("wait_seconds"), "window.wait_seconds"))
            if v2 else None,
            loss_causes=self._again("loss_causes", get("loss_causes"), _causes),
            loss_suppressed=_count(get("loss_suppressed"), "window.loss_suppressed"),
        ), notes

    def _status(self, obj: Any) -> AuditStatus | None:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise _Damaged(f"status is not an object but {_show(obj)}")
        values = [_count(obj.get(name), f"status.{name}") for name in STATUS_FIELDS]
        return None if all(v is None for v in values) else AuditStatus(*values)

    def _findings(self, items: Any) -> tuple[tuple[Finding, ...], list[str]]:
        if items is None:
            return (), []
        if not isinstance(items, list):
            raise _Damaged(f"findings is not a list but {_show(items)}")
        found, notes = [], []
        for index, item in enumerate(items, 1):
            fields = item if isinstance(item, dict) else {}
            key = tuple(fields.get(name) for name in ("id", "severity", "title", "detail",
                                                      "remedy"))
            ok = (all(isinstance(v, str) for v in key[:4]) and key[1] in SEVERITY_ORDER
                  and (key[4] is None or isinstance(key[4], str)))
            if ok:
                found.append(self._share(("finding", key), lambda: Finding(*key)))
            else:
                notes.append(f"finding {index} skipped: not a finding ({_show(item)})")
        return tuple(found), notes

    def _system(self, obj: Any) -> SystemInfo | None:
        """Rebuild what the line says; a part of the wrong shape is unknown."""
        if not isinstance(obj, dict):
            return None
        process = socket = None
        auditd = obj.get("auditd")
        if isinstance(auditd, dict) and (pid := _soft(auditd.get("pid"), int)) is not None:
            name, state = _soft(auditd.get("name"), str), _soft(auditd.get("state"), str)
            start = _soft(auditd.get("start_time"), float)
            if name is not None and state is not None:
                process = self._share(("process", pid, name, state, start),
                                      lambda: AuditdProcess(pid, name, state, start))
            rmem, drops = _soft(auditd.get("netlink_rmem"), int), _soft(
                auditd.get("netlink_drops"), int)
            if rmem is not None and drops is not None:
                socket = (pid, rmem, drops, _soft(auditd.get("netlink_rcvbuf"), int))
        readers = tuple(
            (r["portid"], r["rmem"], r["drops"], _soft(r.get("rcvbuf"), int))
            for r in _soft(obj.get("multicast_readers"), list) or ()
            if isinstance(r, dict) and all(type(r.get(k)) is int
                                           for k in ("portid", "rmem", "drops")))
        return SystemInfo(
            rmem_default=_soft(obj.get("rmem_default"), int),
            rmem_max=_soft(obj.get("rmem_max"), int), auditd=process,
            auditd_socket=NetlinkSocketRow(socket[0], 0, socket[1], socket[2], 0, socket[3])
            if socket else None,
            multicast_readers=tuple(NetlinkSocketRow(p, 1, r, d, 0, b)
                                    for p, r, d, b in readers),
            config=self._again("config", obj.get("auditd_conf"), self._config),
            boot=self._again("boot", obj.get("boot"), self._boot),
            mem_total=_soft(obj.get("mem_total"), int), hz=_soft(obj.get("hz"), int),
            sock_diag_error=_soft(obj.get("sock_diag_error"), str),
            kernel_log_error=_soft(obj.get("kernel_log_error"), str))

    def _config(self, obj: Any) -> AuditdConfig | None:
        if not isinstance(obj, dict) or not isinstance(obj.get("path"), str):
            return None
        texts = ("flush", "log_format", "overflow_action", "disp_qos")
        numbers = ("freq", "q_depth", "priority_boost")
        plugins = obj.get("active_plugins")
        values = dict(path=obj["path"], **{k: _soft(obj.get(k), str) for k in texts},
                      **{k: _soft(obj.get(k), int) for k in numbers},
                      active_plugins=tuple(p for p in plugins if isinstance(p, str))
                      if isinstance(plugins, list) else ())
        return self._share(("config", *values.items()), lambda: AuditdConfig(**values))

    def _boot(self, obj: Any) -> BootParams:
        if not isinstance(obj, dict):
            return self._share(("boot", None, None), BootParams)
        audit, limit = _soft(obj.get("audit"), str), _soft(obj.get("audit_backlog_limit"), int)
        return self._share(("boot", audit, limit), lambda: BootParams(audit, limit))
