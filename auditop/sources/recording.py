"""Reading `auditop record` files back (JSON Lines, docs/json.md).

One line per display window. From format version 2 on every line carries
"version"; a line without one is version 1. Keys this reader does not know
are ignored (fields are only ever added within a major version); a line of a
newer version than READ_VERSION is reported and skipped. A damaged line (not
JSON, wrong types, cut short by a killed recorder) is reported as
"line N: why" and skipped. Only a file with no readable window at all (empty,
binary, JSON of another shape) raises NotARecording, with one line to print.

Every value is checked before it is used: a count is an integer from 0 to
MAX_COUNT (a kernel status field: to 2^32 - 1), a rate or a span a finite
number from 0 to MAX_NUMBER, a time one within what a clock can show; a line
with a value outside that is damaged (a part of "system" is unknown instead).
A line longer than MAX_LINE is damaged too; the first window must come
within it, so a file without line breaks is refused after MAX_LINE bytes.
Devices are refused unread; a pipe is read (plot), with at most MAX_SKIP
bytes of one over-long line skipped before the rest is given up. The path
"-" (STDIN) is standard input, named "stdin" in what is said.

The file is streamed line by line, never held whole, and values that repeat
from line to line (findings, auditd.conf, the auditd process, an unchanged
status or system state) are decoded once and shared, so a 24 h recording at
1 s windows opens in seconds and stays small in memory.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import stat
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

from auditop.core.drift import SettingChange
from auditop.core.findings import SEVERITY_ORDER, Finding
from auditop.core.losses import add_causes
from auditop.core.model import (STATUS_FIELDS, AuditdConfig, AuditdProcess, AuditStatus,
                                BootParams, ConfigChangeRecord, NetlinkSocketRow,
                                SystemInfo)
from auditop.core.producers import DIMENSIONS, Producer, WindowProducers

READ_VERSION = 2  # the newest line format this reader knows
MAX_LINE = 4 * 1024 * 1024  # bytes; a longer line is damage, not a window
MAX_SKIP = 64 * 1024 * 1024  # bytes of one over-long line skipped in a pipe before it is given up
PROBE_LINES = 1_000  # a file whose first this many lines are all unreadable is given up
PROBE_BLANK = 100 * PROBE_LINES  # ... or whose first this many lines hold no window at all
MAX_COUNT = 2 ** 53  # the largest count read (exact as a float)
MAX_U32 = 2 ** 32 - 1  # the kernel's status fields are 32-bit
MAX_NUMBER = float(2 ** 53)  # the largest rate or span read
MAX_TIME = 253_402_300_799.0  # 9999-12-31 23:59:59 UTC, the last second a clock shows
MAX_PROBLEMS = 200  # reported one by one; the rest are counted in one last line
_CACHE_MAX = 4_096  # distinct findings / parts remembered for sharing
STDIN = "-"  # the path that means standard input


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
    # Added later in version 2: `audit: type=` records the kernel printed
    # to its log instead of delivering them.
    records_printed: int | None = None
    # Added later in version 2: who produced the window's records (None: not
    # counted, or a line written before them).
    producers: WindowProducers | None = None
    # The line's "setting_changes" (a change is in every line of the 5 min
    # after it; None in a line without the key). A recording keeps no
    # monotonic clock: `mono` is the wall clock, as `time`.
    setting_changes: tuple[SettingChange, ...] | None = None


@dataclass(frozen=True, slots=True)
class Recording:
    windows: tuple[RecordedWindow, ...]
    problems: tuple[str, ...]  # "line N: why", one per skipped line or part
    skipped: int = 0  # lines skipped (every one, also beyond MAX_PROBLEMS)


class _Damaged(ValueError):
    """Why one line is not a window."""


class Skipped(str):
    """A problem that is a whole line skipped ("line N: why")."""


class Note(str):
    """A problem with a part of a line whose window is used (a finding skipped)."""


class _Newer(_Damaged):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"format version {_show(version)} is newer than this auditop reads "
                         f"(up to {READ_VERSION}): skipped")


class _Binary(_Damaged):
    pass


def problems_text(problems: int, skipped: int) -> str:
    """"3 damaged lines skipped", and the findings skipped in lines that were kept."""
    parts = problems - skipped
    said = [f"{skipped} damaged line{'s' * (skipped != 1)} skipped"] if skipped else []
    if parts:
        said.append(f"{parts} damaged finding{'s' * (parts != 1)} skipped")
    return ", ".join(said)


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Every window of the recording at `path`, and what was skipped."""
    windows: list[RecordedWindow] = []
    problems: list[str] = []
    hidden = skipped = 0
    for item in iter_recording(path):
        if isinstance(item, RecordedWindow):
            windows.append(item)
            continue
        skipped += isinstance(item, Skipped)
        if len(problems) < MAX_PROBLEMS:
            problems.append(item)
        else:
            hidden += 1
    if hidden:
        problems.append(f"and {hidden} more problems")
    return Recording(tuple(windows), tuple(problems), skipped)


def iter_recording(path: str | os.PathLike[str], *,
                   seekable: bool = False) -> Iterator[RecordedWindow | str]:
    """Stream the recording: each window, or a problem for each line skipped
    (a Skipped, "line N: why") or part of a line skipped (a Note). Raises
    NotARecording (at once for an unreadable, binary or device file, else
    once it is clear no line is a window). `seekable`: refuse a pipe too
    (a replay reads back in the file)."""
    return (item for _, item in scan_recording(path, seekable=seekable))


def scan_recording(path: str | os.PathLike[str], *,
                   seekable: bool = False) -> Iterator[tuple[int, RecordedWindow | str]]:
    """iter_recording, each item with the byte offset of its line (a
    replay seeks back to it with WindowReader)."""
    name = shown(path)

    def refuse(why: str) -> NotARecording:
        return NotARecording(f"{name}: not an auditop recording: {why}")

    stream = _open(os.fspath(path), seekable=seekable)
    decoder = _Decoder()
    found = tried = 0
    first: tuple[int, _Damaged] | None = None
    newest, all_newer = 0, True  # is every unreadable line of a newer format?
    line_no = 0
    with stream:
        bounded = not stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
        for line_no, offset, raw, complete in _lines(stream, MAX_SKIP if bounded else None):
            if raw is _PASSED:  # the rest of a long line, said once it is skipped
                yield offset, Skipped(f"line {line_no}: longer than {_mib(MAX_LINE)}")
                continue
            if raw is _GIVEN_UP:
                yield offset, Skipped(f"line {line_no}: longer than {_mib(MAX_SKIP)}: "
                                      "the rest of the stream is not read")
                return
            try:
                obj = _parse(raw, complete, line_no)
                if obj is None:
                    if not found and line_no >= PROBE_BLANK:
                        break
                    continue  # a blank line
                window, notes = decoder.window(obj, line_no)
            except _Damaged as damage:
                tried += 1
                if first is None:
                    first = (line_no, damage)
                if not found and isinstance(damage, _Binary) and tried == 1:
                    raise refuse("binary data, not JSON lines") from None
                if isinstance(damage, _TooLong):
                    if not found:
                        raise refuse(f"line {line_no} is {damage}") from None
                    continue  # said once the rest of it is skipped (_PASSED)
                if isinstance(damage, _Newer):
                    newest = max(newest, damage.version)
                else:
                    all_newer = False
                if not found and (tried >= PROBE_LINES or line_no >= PROBE_BLANK):
                    break
                yield offset, Skipped(f"line {line_no}: {damage}")
                continue
            tried += 1
            found += 1
            yield offset, window
            yield from ((offset, Note(f"line {line_no}: {note}")) for note in notes)
    if found:
        return
    if first is None:
        raise refuse("the file is empty" if line_no < PROBE_BLANK
                     else f"no window in its first {PROBE_BLANK} lines")
    if all_newer:
        raise refuse(f"it was written by a newer auditop (format version {_show(newest)}; "
                     f"this one reads up to {READ_VERSION})")
    line_no, damage = first
    raise refuse(f"no line is a window (line {line_no}: {damage})")


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def shown(path: str | os.PathLike[str]) -> str:
    """The path as messages name it: "stdin" for STDIN."""
    return "stdin" if os.fspath(path) == STDIN else os.fspath(path)


def _open(name: str, *, seekable: bool) -> BinaryIO:
    """The file, opened; a device (a terminal, /dev/zero: no end, or no
    lines) is refused unread, and so is a pipe when `seekable`. STDIN is a
    copy of file descriptor 0 (closing it leaves stdin open)."""
    if name == STDIN:
        return _open_stdin(seekable=seekable)
    try:
        mode = os.stat(name).st_mode
    except OSError as error:
        raise NotARecording(f"{name}: cannot read it: {error.strerror or error}") from None
    kind = next((what for test, what in _KINDS if test(mode)), None)
    if kind is not None:
        raise NotARecording(f"{name}: not an auditop recording: {kind}, not a file")
    if seekable and stat.S_ISFIFO(mode):
        raise NotARecording(f"{name}: cannot replay a pipe (a replay reads back and forth "
                            "in the file): save it to a file first")
    try:
        return open(name, "rb")
    except OSError as error:
        raise NotARecording(f"{name}: cannot read it: {error.strerror or error}") from None


def _open_stdin(*, seekable: bool) -> BinaryIO:
    if seekable:  # WindowReader opens the path again
        raise NotARecording("stdin: cannot replay standard input (a replay reads back and "
                            "forth in the file): give the file's path")
    try:
        fd = os.dup(0)
        mode = os.fstat(fd).st_mode
    except OSError as error:
        raise NotARecording(f"stdin: cannot read it: {error.strerror or error}") from None
    kind = next((what for test, what in _KINDS if test(mode)), None)
    if kind is not None:
        os.close(fd)
        raise NotARecording(f"stdin: not an auditop recording: {kind}, not a file")
    return open(fd, "rb")


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
            obj = _parse(raw if len(raw) <= MAX_LINE else _Long(raw), raw.endswith(b"\n"),
                         line_no)
            return None if obj is None else self._decoder.window(obj, line_no)[0]
        except _Damaged:
            return None

    def close(self) -> None:
        self._stream.close()


class _Long(bytes):
    """The first MAX_LINE + 1 bytes of a line longer than MAX_LINE."""


# After a _Long, in place of a line: the rest of it was skipped, or skipping
# it ran past `skip_at_most` and nothing more is read.
_PASSED, _GIVEN_UP = _Long(), _Long()


def _lines(stream: BinaryIO,
           skip_at_most: int | None) -> Iterator[tuple[int, int, bytes, bool]]:
    """(line number, its byte offset, its bytes (a _Long when longer than
    MAX_LINE), whether it ended with a newline). The rest of a long line is
    skipped once the caller asks for the next line, up to `skip_at_most`
    bytes (None: to its end), then _PASSED in its place; past that,
    _GIVEN_UP and the end."""
    line_no = offset = 0
    while raw := stream.readline(MAX_LINE + 1):
        line_no += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            yield line_no, start, _Long(raw), True
            skipped = 0
            while raw and not raw.endswith(b"\n"):  # skip the rest of it
                if skip_at_most is not None and skipped > skip_at_most:
                    yield line_no, start, _GIVEN_UP, False
                    return
                raw = stream.readline(MAX_LINE + 1)
                offset += len(raw)
                skipped += len(raw)
            yield line_no, start, _PASSED, True
            continue
        yield line_no, start, raw, raw.endswith(b"\n")


def _mib(size: int) -> str:
    return f"{size // (1024 * 1024)} MiB" if size % (1024 * 1024) == 0 else f"{size} bytes"


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


class _TooLong(_Damaged):
    pass


def _parse(raw: bytes, complete: bool, line_no: int) -> Any:
    if isinstance(raw, _Long):
        if b"\0" in raw:
            raise _Binary("binary data, not a JSON line")
        try:  # what is cut off at the end may be half a character
            codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        except UnicodeDecodeError:
            raise _Binary("not UTF-8 text") from None
        raise _TooLong(f"longer than {_mib(MAX_LINE)}")
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


def _count(value: Any, where: str, top: int = MAX_COUNT) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= top:
        raise _Damaged(f"{where} is not a count: {_show(value)}")
    return value


def _finite(value: Any, top: float) -> float | None:
    """`value` as a float when it is a number of at most `top` either way."""
    if type(value) is int:  # an integer too large for a float is no number here
        return float(value) if -top <= value <= top else None
    if type(value) is float and math.isfinite(value) and -top <= value <= top:
        return value + 0.0  # -0.0 is 0
    return None


def _number(value: Any, where: str, *, required: bool = False) -> float | None:
    if value is None and not required:
        return None
    number = _finite(value, MAX_NUMBER)
    if number is None:
        raise _Damaged(f"{where} is not a number: {_show(value)}")
    return number


def _rate(value: Any, where: str) -> float | None:
    rate = _number(value, where)
    if rate is not None and rate < 0:
        raise _Damaged(f"{where} is negative: {_show(value)}")
    return rate


def _time(value: Any) -> float:
    number = _number(value, "time", required=True)
    if not 0 <= number <= MAX_TIME:
        raise _Damaged(f"time is not a time: {_show(value)}")
    return number


def _span(value: Any) -> float:
    seconds = _number(value, "window.seconds", required=True)
    if seconds < 0:
        raise _Damaged(f"window.seconds is negative: {_show(value)}")
    if seconds > MAX_TIME:
        raise _Damaged(f"window.seconds is not a span: {_show(value)}")
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
            isinstance(k, str) and type(v) is int and 0 <= v <= MAX_COUNT
            for k, v in value.items()):
        raise _Damaged(f"window.loss_causes is not counts by cause: {_show(value)}")
    return add_causes([value.items()])


MAX_PRODUCERS = 64  # entries in one list (auditop writes 11 at most)


def _share_of(value: Any, where: str) -> float:
    number = _number(value, where, required=True)
    if not 0 <= number <= 1:
        raise _Damaged(f"{where} is not a share: {_show(value)}")
    return number


def _producers(value: Any) -> WindowProducers | None:
    """The line's "producers" (docs/json.md): every field checked, the line
    damaged when one is not what it says; None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Damaged(f"producers is not an object but {_show(value)}")
    source = _text(value.get("source"), "producers.source")
    if source is None:
        raise _Damaged("producers.source is missing")
    records = _count(value.get("records"), "producers.records")
    if records is None:
        raise _Damaged("producers.records is missing")
    listened = value.get("listened", 1.0)
    lists = {}
    for name in DIMENSIONS:
        where = f"producers.{name}"
        items = value.get(name, [])
        if not isinstance(items, list) or len(items) > MAX_PRODUCERS:
            raise _Damaged(f"{where} is not a list of producers: {_show(items)}")
        entries = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise _Damaged(f"{where} has an entry that is not a producer: {_show(item)}")
            count = _count(item.get("records"), f"{where}.records")
            per_s = _rate(item.get("per_s"), f"{where}.per_s")
            if count is None or per_s is None:
                raise _Damaged(f"{where} has an entry without records or per_s")
            entries.append(Producer(item["name"], count, per_s,
                                    _share_of(item.get("share"), f"{where}.share")))
        lists[name] = tuple(entries)
    sampled = _share_of(value.get("sampled", 1.0), "producers.sampled")
    listened = _share_of(listened, "producers.listened")
    missed = _count(value.get("missed", 0), "producers.missed") or 0
    top = lists["by_type"][0] if lists["by_type"] else None
    seconds = top.records / top.per_s if top is not None and top.per_s else 0.0
    return WindowProducers(source=source, seconds=seconds, records=records, sampled=sampled,
                           missed=missed, listened=listened, **lists)


_BY_COUNTS = ("res", "auid", "ses", "pid", "ppid", "uid")
_BY_TEXTS = ("comm", "exe", "command")


def _setting_change(item: Any) -> SettingChange | None:
    """One of "setting_changes" (docs/json.md), every field checked; None
    when it is not one."""
    if not isinstance(item, dict) or not isinstance(item.get("field"), str):
        return None
    old, new = item.get("old"), item.get("new")
    time, after = _finite(item.get("time"), MAX_TIME), _finite(item.get("after"), MAX_TIME)
    if not (_u32(old) and _u32(new) and time is not None and after is not None):
        return None
    by, record = item.get("by"), None
    if by is not None:
        if not isinstance(by, dict) or not isinstance(by.get("field"), str):
            return None
        when, serial = _finite(by.get("time"), MAX_TIME), by.get("serial")
        counts = {k: by.get(k) for k in _BY_COUNTS}
        texts = {k: by.get(k) for k in _BY_TEXTS}
        if (when is None or type(serial) is not int or not _u32(by.get("old"))
                or not _u32(by.get("new"))
                or not all(v is None or _u32(v) for v in counts.values())
                or not all(v is None or isinstance(v, str) for v in texts.values())):
            return None
        record = ConfigChangeRecord(when, serial, by["field"], by["new"], by["old"],
                                    **counts, **texts)
    return SettingChange(item["field"], old, new, time, time, after, record)


def _u32(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_U32


def _soft(value: Any, kind: type) -> Any:
    """For the system object: a value of the wrong type, or out of range
    (a negative or huge integer, a time no clock shows), is unknown (None)."""
    if kind is int:
        return value if type(value) is int and 0 <= value <= MAX_COUNT else None
    if kind is float:
        number = _finite(value, MAX_TIME)
        return number if number is not None and number >= 0 else None
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
        try:
            return self._window(obj, line_no)
        except RecursionError:  # comparing a part nested as deep as JSON allows
            raise _Damaged("nested too deeply") from None

    def _window(self, obj: Any, line_no: int) -> tuple[RecordedWindow, list[str]]:
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
        changes, change_notes = self._again("setting_changes", obj.get("setting_changes"),
                                            self._changes)
        v2 = version >= 2
        get, rate, seconds = window.get, _rate, self._seconds
        return RecordedWindow(
            line_no=line_no,
            time=_time(obj.get("time")),
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
            records_printed=_count(get("records_printed"), "window.records_printed"),
            producers=self._again("producers", obj.get("producers"), _producers),
            setting_changes=changes,
        ), notes + change_notes

    def _status(self, obj: Any) -> AuditStatus | None:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise _Damaged(f"status is not an object but {_show(obj)}")
        values = [_count(obj.get(name), f"status.{name}", MAX_U32) for name in STATUS_FIELDS]
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

    def _changes(self, items: Any) -> tuple[tuple[SettingChange, ...] | None, list[str]]:
        if items is None:
            return None, []
        if not isinstance(items, list):
            raise _Damaged(f"setting_changes is not a list but {_show(items)}")
        changes, notes = [], []
        for index, item in enumerate(items, 1):
            change = _setting_change(item)
            if change is None:
                notes.append(f"setting change {index} skipped: not a change ({_show(item)})")
            else:
                changes.append(change)
        return tuple(changes), notes

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
            if isinstance(r, dict) and all(_soft(r.get(k), int) is not None
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
