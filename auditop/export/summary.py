"""`auditop summary`: the incidents in a recording, as text or JSON (pure:
windows in, a Summary out; commands/summary.py reads the file).

An incident is a stretch of windows in which live trouble held: a finding
that `auditop check` weighs WARNING or CRITICAL (export/check.py's LIVE:
records lost, the backlog filling, auditd stopped or gone, its socket
overrun, the kernel holding senders, failure 2 ...). Configuration risks
(a small backlog_limit, a small socket buffer, one producer dominating) hold
in every window of a stock machine, so they never make an incident; those
of warning or critical severity are named with it ("noted"), as `check`
names them. `setting-changed` does not make one either: a recording carries
that finding in every line of the 5 minutes after a change; the change
itself is told in the incident it falls in, or after the incidents.

The merging rule (MERGE_GAP): one quiet window between two troubled ones
does not split an incident (a 150 ms burst a window happened to miss, a
finding flapping at its threshold); two quiet windows in a row do (the
demo's `failure = 2` scene, two quiet seconds after its throttling one, is
an incident of its own). A hole in the
recording (the recorder stopped, then appended to the same file later)
always splits one: two windows are adjacent when the later one closed
within HOLE_FACTOR of its own length (and half a second of scheduling
slack) after the earlier one.

Records lost in an incident are the windows' `lost` (the recorder's growth
of the kernel's counter over every sample, resets and u32 wraps handled);
for a line without it, the growth of `status.lost` since the previous
answered window, wrap-safe (core/history.py's u32_wrap_growth); a counter
that went down and is no wrap (a reset) is unknown, and the total is then
"at least".
"""

from __future__ import annotations

import re
import textwrap
import time as clock
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from auditop.core.drift import SettingChange
from auditop.core.findings import DEFAULT, SEVERITY_ORDER, Finding
from auditop.core.findings.settings import change_text
from auditop.core.history import u32_wrap_growth
from auditop.core.losses import Causes, add_causes, cause_label
from auditop.core.producers import NONE, OTHER, Producer, ranked
from auditop.core.text import (clock_text, count_text, elapsed_text, seconds_text,
                               share_text, stamp_text)
from auditop.export.check import OK, weigh
from auditop.export.json import change_object
from auditop.sources.recording import RecordedWindow

MERGE_GAP = 1  # quiet windows between two troubled ones that do not split an incident
HOLE_FACTOR = 1.5  # a window closing later than this many of its lengths after the last: a hole
NOT_ALONE = frozenset({"setting-changed"})  # live, but kept 5 min in a recording: never alone
PRODUCER_LISTS = {"by_key": "key", "by_comm": "comm"}  # the lists summed, as the text names them
PRODUCERS_SHOWN = 3  # named producers per list
PRODUCER_SHARE = 0.01  # ... each with at least this share of the incident's records
WIDTH = 79  # the text fits an 80-column terminal

T = TypeVar("T")


# -- grouping ------------------------------------------------------------------------

def stretches(items: Iterable[T], flagged: Callable[[T], bool],
              adjacent: Callable[[T, T], bool], gap: int = MERGE_GAP) -> Iterator[list[T]]:
    """The incidents among `items`, in order: each a run of items that starts
    and ends with a flagged one, with at most `gap` unflagged items in a row
    inside it and every item adjacent to the one before. Every flagged item
    is in exactly one; the unflagged ones inside a run are kept in it."""
    current: list[T] = []
    quiet: list[T] = []  # unflagged items after the current run's last flagged one
    previous: Any = None
    for item in items:
        if current and not adjacent(previous, item):
            yield current
            current, quiet = [], []
        previous = item
        if flagged(item):
            current.extend(quiet)
            current.append(item)
            quiet = []
        elif current:
            quiet.append(item)
            if len(quiet) > gap:
                yield current
                current, quiet = [], []
    if current:
        yield current


def troubled(window: RecordedWindow) -> bool:
    """Live trouble held in the window: a finding `check` weighs WARNING or
    CRITICAL (not only `setting-changed`)."""
    return any(f.id not in NOT_ALONE and live(f, window) for f in window.findings)


def live(finding: Finding, window: RecordedWindow) -> bool:
    return weigh(finding, window, DEFAULT) > OK  # type: ignore[arg-type]  # duck-typed window


def adjacent(earlier: RecordedWindow, later: RecordedWindow) -> bool:
    """No hole between the two windows (see the module's docstring)."""
    step = later.time - earlier.time
    return 0 <= step <= HOLE_FACTOR * max(later.seconds, 0.001) + 0.5


# -- what an incident says ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Held:
    """A finding that held in an incident: its worst severity, in how many windows."""

    id: str
    severity: str
    windows: int


@dataclass(frozen=True, slots=True)
class Incident:
    start: float  # wall clock: where its first window began
    end: float  # where its last window closed
    windows: int
    severity: str  # the worst of `findings`
    backlog_peak: int | None  # the highest window peak
    backlog_limit: int | None  # the limit in force in that window
    lost: int | None  # records lost in it; None: unknown in every window
    lost_complete: bool  # False: some window's loss is unknown (`lost` is "at least")
    loss_causes: Causes  # kernel log messages naming why, most named first
    findings: tuple[Held, ...]  # live trouble, worst first, then by id
    noted: tuple[Held, ...]  # configuration risks of warning or critical severity
    producers: dict[str, tuple[Producer, ...]] | None  # named, summed; None: not counted
    producer_records: int  # every record the listener saw in it
    changes: tuple[SettingChange, ...]  # settings changed underneath auditop in it

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 0.0)


@dataclass(frozen=True, slots=True)
class Summary:
    start: float | None  # None: no window at all
    end: float | None
    windows: int
    window_seconds: float | None  # the most common window length
    incidents: tuple[Incident, ...]
    other_changes: tuple[SettingChange, ...]  # setting changes outside every incident


def summarize(windows: Iterable[RecordedWindow]) -> Summary:
    """Every incident of the windows (in file order), read in one pass."""
    span = _Span()
    changes: dict[tuple, SettingChange] = {}

    def watched() -> Iterator[tuple[RecordedWindow, int | None]]:
        last_lost: int | None = None  # status.lost of the newest answered window
        last_time = 0.0
        for window in span.watch(windows):
            for change in window.setting_changes or ():
                key = (change.field, change.old, change.new, round(change.time, 3))
                if change.by is not None or key not in changes:
                    changes[key] = change
            lost, now = window.lost, window.status.lost if window.status else None
            if lost is None and now is not None and last_lost is not None:
                lost = counter_growth(last_lost, now, window.time - last_time)
            if now is not None:
                last_lost, last_time = now, window.time
            yield window, lost

    found = [_incident(run) for run in stretches(
        watched(), lambda pair: troubled(pair[0]), lambda a, b: adjacent(a[0], b[0]))]
    ordered = sorted(changes.values(), key=lambda c: c.time)
    incidents, placed = [], set()
    for incident in found:
        inside = tuple(c for c in ordered if incident.start <= c.time <= incident.end)
        placed.update(id(c) for c in inside)
        incidents.append(replace(incident, changes=inside))
    return Summary(span.start, span.end, span.windows, span.typical_seconds(),
                   tuple(incidents),
                   tuple(c for c in ordered if id(c) not in placed))


def counter_growth(old: int, new: int, seconds: float) -> int | None:
    """The growth of the kernel's u32 `lost` from `old` to `new`: a wrap past
    2^32 counted, a reset (None) not."""
    return new - old if new >= old else u32_wrap_growth(old, new, seconds)


class _Span:
    """The recording's span and pace, taken as the windows pass."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end: float | None = None
        self.windows = 0
        self._lengths: Counter[float] = Counter()

    def watch(self, windows: Iterable[RecordedWindow]) -> Iterator[RecordedWindow]:
        for window in windows:
            self.windows += 1
            begins = window.time - window.seconds
            self.start = begins if self.start is None else min(self.start, begins)
            self.end = window.time if self.end is None else max(self.end, window.time)
            self._lengths[round(window.seconds, 1)] += 1
            yield window

    def typical_seconds(self) -> float | None:
        return self._lengths.most_common(1)[0][0] if self._lengths else None


def _incident(run: Sequence[tuple[RecordedWindow, int | None]]) -> Incident:
    first, last = run[0][0], run[-1][0]
    peak_window = max((w for w, _ in run if w.backlog_peak is not None),
                      key=lambda w: w.backlog_peak, default=None)
    losses = [lost for _, lost in run]
    known = [n for n in losses if n is not None]
    worst: dict[str, str] = {}
    counts: Counter[str] = Counter()
    live_ids: set[str] = set()
    for window, _ in run:
        for finding in window.findings:
            if finding.severity not in ("warning", "critical"):
                continue
            if live(finding, window):
                live_ids.add(finding.id)
            counts[finding.id] += 1
            if finding.id not in worst or (SEVERITY_ORDER[finding.severity]
                                           < SEVERITY_ORDER[worst[finding.id]]):
                worst[finding.id] = finding.severity
    held = sorted((Held(i, s, counts[i]) for i, s in worst.items()),
                  key=lambda h: (SEVERITY_ORDER[h.severity], h.id))
    findings = tuple(h for h in held if h.id in live_ids)
    producers, records = _producers([w for w, _ in run])
    return Incident(
        start=first.time - first.seconds, end=last.time, windows=len(run),
        severity=findings[0].severity if findings else "warning",
        backlog_peak=peak_window.backlog_peak if peak_window else None,
        backlog_limit=(peak_window.status.backlog_limit
                       if peak_window is not None and peak_window.status else None),
        lost=sum(known) if known else None, lost_complete=len(known) == len(losses),
        loss_causes=add_causes(w.loss_causes or () for w, _ in run),
        findings=findings, noted=tuple(h for h in held if h.id not in live_ids),
        producers=producers, producer_records=records, changes=())


def _producers(windows: list[RecordedWindow]
               ) -> tuple[dict[str, tuple[Producer, ...]] | None, int]:
    """The named producers of each list in PRODUCER_LISTS, summed over the
    windows that counted them (each window's list holds its top 10: a name
    outside them in some window is counted where it was named)."""
    counted = [w.producers for w in windows if w.producers is not None]
    if not counted:
        return None, 0
    total = sum(p.records for p in counted)
    seconds = sum(p.seconds for p in counted)
    lists = {}
    for name in PRODUCER_LISTS:
        sums: Counter[str] = Counter()
        for producers in counted:
            for entry in getattr(producers, name):
                if entry.name not in (OTHER, NONE):
                    sums[entry.name] += entry.records
        lists[name] = tuple(p for p in ranked(sums, total, seconds, PRODUCERS_SHOWN)
                            if p.name != OTHER and p.share >= PRODUCER_SHARE)
    return lists, total


# -- text ----------------------------------------------------------------------------

def summary_text(summary: Summary, name: str) -> str:
    """The header, then each incident, then the setting changes outside them;
    plain text, lines of at most WIDTH columns."""
    at = _clock(summary)
    lines = _wrap(f"{name}: {_span_text(summary)}", "  ")
    count = len(summary.incidents)
    said = (f"{count} incident{'s' * (count != 1)}" if count else
            "no incidents")
    lines.extend(_wrap(f"{_pace_text(summary)}; {said}", "  "))
    for number, incident in enumerate(summary.incidents, 1):
        lines.append("")
        lines.extend(_incident_lines(number, incident, at))
    if summary.other_changes:
        lines.append("")
        lines.append("setting changes outside the incidents:")
        for change in summary.other_changes:
            lines.extend(_wrap(f"  {_change(change, at)}", "    "))
    return "\n".join(lines)


def _span_text(summary: Summary) -> str:
    if summary.start is None or summary.end is None:
        return "no windows"
    end = _clock(summary)(summary.end)
    return f"{stamp_text(summary.start)} to {end} ({elapsed_text(summary.end - summary.start)})"


def _pace_text(summary: Summary) -> str:
    """"37 windows of 1 s" (the most common length)."""
    said = f"{summary.windows} window{'s' * (summary.windows != 1)}"
    if summary.window_seconds:
        said += f" of {seconds_text(summary.window_seconds)}"
    return said


def _clock(summary: Summary) -> Callable[[float], str]:
    """Clock times within a recording of one day, date and time across days."""
    if summary.start is None or summary.end is None:
        return clock_text
    same_day = clock.localtime(summary.start)[:3] == clock.localtime(summary.end)[:3]
    return clock_text if same_day else stamp_text


def _incident_lines(number: int, incident: Incident, at: Callable[[float], str]) -> list[str]:
    indent = " " * (len(str(number)) + 2)
    lines = [f"{number}. {at(incident.start)} to {at(incident.end)} "
             f"({elapsed_text(incident.seconds)}), {incident.severity}"]

    def say(text: str, hanging: int = 0) -> None:
        lines.extend(_wrap(indent + text, indent + " " * hanging))

    say(_peak_text(incident))
    say(_lost_text(incident))
    if incident.loss_causes:
        say("the kernel said: " + ", ".join(
            f"{cause_label(cause)} ({n} message{'s' * (n != 1)})"
            for cause, n in incident.loss_causes), len("the kernel said: "))
    elif incident.lost:
        say("the kernel's log named no cause")
    for severity in ("critical", "warning"):
        ids = [h.id for h in incident.findings if h.severity == severity]
        if ids:
            say(f"{severity}: {', '.join(ids)}", len(severity) + 2)
    if incident.noted:
        say(f"noted: {', '.join(h.id for h in incident.noted)}", 7)
    say(_producers_text(incident), 11)
    if incident.changes:
        say("setting changes:")
        for change in incident.changes:
            say(f"  {_change(change, at)}", 4)
    return lines


def _peak_text(incident: Incident) -> str:
    peak, limit = incident.backlog_peak, incident.backlog_limit
    if peak is None:
        return "backlog peak ?"
    if limit == 0:
        return f"backlog peak {peak}, backlog_limit 0 (no limit)"
    share = share_text(peak, limit)
    return f"backlog peak {peak} of backlog_limit {count_text(limit)}" + (
        f" ({share})" if share else "")


def _lost_text(incident: Incident) -> str:
    lost = incident.lost
    if lost is None:
        return "records lost ?"
    at_least = "" if incident.lost_complete else "at least "
    if lost == 0:
        return "no record lost" if incident.lost_complete else "records lost ? (none counted)"
    return f"{at_least}{lost} record{'s' * (lost != 1)} lost"


def _producers_text(incident: Incident) -> str:
    if incident.producers is None:
        return "producers: not counted (record with --producers)"
    parts = []
    for name, label in PRODUCER_LISTS.items():
        entries = incident.producers.get(name, ())
        if entries:
            parts.append(f"{label} " + ", ".join(
                f"{p.name} {share_text(p.records, incident.producer_records)}"
                for p in entries))
    return "producers: " + ("; ".join(parts) if parts else "none named")


def _change(change: SettingChange, at: Callable[[float], str]) -> str:
    text = change_text(change)
    return text.replace(f" at {clock_text(change.time)}", f" at {at(change.time)}", 1)


def _wrap(text: str, indent: str) -> list[str]:
    """Lines of at most WIDTH columns (a longer word, a path, stays whole),
    never broken inside parentheses: "(10 messages)", "(pid 14356, auid 1000)".
    A control character (from the file: a name, a command line) is written
    as its escape, never sent to the terminal."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    kept = re.sub(r"\([^()]{0,40}\)", lambda m: m.group().replace(" ", _KEPT), text)
    return [row.replace(_KEPT, " ") for row in textwrap.wrap(
        kept, WIDTH, subsequent_indent=indent, break_long_words=False,
        break_on_hyphens=False)] or [""]


_KEPT = "\0"  # a space no line breaks at (no control character is left to be one)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


# -- JSON ------------------------------------------------------------------------------

def summary_object(summary: Summary, name: str) -> dict[str, Any]:
    """`summary --json` (docs/json.md)."""
    return {
        "file": name,
        "start": summary.start, "end": summary.end,
        "seconds": (round(summary.end - summary.start, 3)
                    if summary.start is not None and summary.end is not None else None),
        "windows": summary.windows,
        "window_seconds": summary.window_seconds,
        "merge_gap_windows": MERGE_GAP,
        "incidents": [_incident_object(i) for i in summary.incidents],
        "other_setting_changes": [change_object(c) for c in summary.other_changes],
    }


def _incident_object(incident: Incident) -> dict[str, Any]:
    producers = None
    if incident.producers is not None:
        producers = {"records": incident.producer_records, **{
            name: [{"name": p.name, "records": p.records,
                    "share": round(p.records / incident.producer_records, 4)
                    if incident.producer_records else 0.0}
                   for p in entries]
            for name, entries in incident.producers.items()}}
    return {
        "start": incident.start, "end": incident.end,
        "seconds": round(incident.seconds, 3), "windows": incident.windows,
        "severity": incident.severity,
        "backlog_peak": incident.backlog_peak, "backlog_limit": incident.backlog_limit,
        "lost": incident.lost, "lost_complete": incident.lost_complete,
        "loss_causes": dict(incident.loss_causes),
        "findings": [_held(h) for h in incident.findings],
        "noted": [_held(h) for h in incident.noted],
        "producers": producers,
        "setting_changes": [change_object(c) for c in incident.changes],
    }


def _held(held: Held) -> dict[str, Any]:
    return {"id": held.id, "severity": held.severity, "windows": held.windows}
