"""Replaying a recording: the TUI's Snapshots rebuilt from `auditop record` lines.

ReplayPlayer opens a recording (recording.py reads it) and publishes the
Monitor's frozen Snapshot (core/monitor.py) for one recorded window after
another, at the recording's own pace times `speed`: the windows as Window
objects (the newest WINDOWS_KEPT of them, for the charts), the findings as
they were recorded, the status and system state of the window. The app
renders them like live ones; nothing here touches the kernel.

Opening reads only up to the first window, so the first frame comes at once
whatever the size of the file. An indexer thread then reads the rest once,
keeping per window only its byte offset and what a plot needs (time, peak,
limit, lost/s) in compact arrays, and the windows where a warning or a
critical finding begins (one that the window before did not have). The
player's own thread reads windows back by offset as it plays, steps or
jumps, so memory stays flat: a 24 h recording at 1 s windows, 86 400
lines, is an index of about 3 MB (replay_index.py).

A Stretch (core/timespec.py: --from / --to) keeps only the windows between
two times: the index holds those alone, so the replay starts at --from and
ends at --to; opening reads until both times are known to be in the
recording (BadRange otherwise, naming its span).

The controls (pause, step, next / previous finding, speed, start / end, a
jump to a time, a search of the findings) may be called from any thread:
while the player runs they are queued to its thread, otherwise (tests) they
run at once. Each publishes a Snapshot (and `state`, a frozen ReplayState);
one that cannot do what was asked says why as a Notice. The player is a
Feed (core/feed.py): connect() one sink, which receives the Snapshots, the
Notices and the Failure that stops it.
"""

from __future__ import annotations

import bisect
import math
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator

from auditop.core.feed import Failure, Notice, Sink, Snapshot
from auditop.core.findings import Finding
from auditop.core.history import Window
from auditop.core.text import clock_text
from auditop.core.timespec import AFTER, INSIDE, BadRange, Stretch, TimeSpec, resolve
from auditop.core.monitor import WINDOWS_KEPT
from auditop.sources.recording import WindowReader, problems_text, scan_recording
from auditop.sources.replay_index import (NONE, ONSET, Index, as_window,
                                          replay_snapshot)

SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
MIN_SPEED, MAX_SPEED = 0.01, 10_000.0
MAX_PAUSE = 10.0  # the longest wait between two windows (at speed 1): a recorder's gap is skipped
BATCH = 5_000  # the most windows played at once before the controls are looked at again
STEP_READS = 60  # a jump farther than this rereads the windows on screen instead of stepping
PROGRESS_EVERY = 0.5  # seconds between two reports of the indexer's progress


@dataclass(frozen=True, slots=True)
class ReplayState:
    """What the screen says about the replay, beside the Snapshot."""

    path: str
    position: int  # index of the window on screen (0-based)
    known: int  # windows indexed so far
    complete: bool  # the whole file has been read
    read_fraction: float  # of the file's bytes
    speed: float
    paused: bool
    problems: int  # lines (or parts) skipped so far
    first_problem: str | None

    @property
    def at_end(self) -> bool:
        return self.complete and self.position >= self.known - 1


class ReplayPlayer:
    """Plays a recording as Snapshots. open() first (raises NotARecording),
    then connect() a sink and start(); or drive it by hand (tests):
    index(), tick() and the controls."""

    def __init__(self, path: str | os.PathLike[str], *, speed: float = 1.0,
                 paused: bool = False, clock: Callable[[], float] = time.monotonic,
                 stretch: Stretch | None = None, name: str | None = None) -> None:
        self.path = os.fspath(path)
        self.name = name or self.path  # in what is said (stdin, read into a file first)
        self._stretch = stretch or Stretch()
        self._speed = speed
        self._paused = paused
        self._clock = clock
        self._index = Index()
        self._size = 1
        self._scan: Iterator | None = None
        self._reader: WindowReader | None = None
        self._shown: deque[tuple[Window, tuple[Finding, ...]]] = deque(maxlen=WINDOWS_KEPT)
        self._position = -1
        self._due: float | None = None  # clock time the next window is shown
        self._seq = 0
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sink: Sink | None = None
        self.failure: BaseException | None = None
        self._snapshot: Snapshot | None = None
        self.state: ReplayState | None = None

    # -- opening and running ------------------------------------------------------------

    def open(self) -> Snapshot:
        """Read up to the first window (of the stretch: until its times are
        known to be in the recording) and show it. Raises NotARecording, or
        BadRange for a --from or --to outside the recording."""
        self._scan = scan_recording(self.path, seekable=True)
        try:
            self._size = max(os.path.getsize(self.path), 1)
        except OSError:
            pass  # the scan says why, in one line
        while not len(self._index) or not self._stretch.settled:
            if not self._index_next():
                break
        if self._index.complete:
            self._stretch.finish()
        self._reader = WindowReader(self.path)
        self._seek(0)
        self._due = None if self._paused else self._clock() + self._gap() / self._speed
        self._publish()
        return self._snapshot

    def connect(self, sink: Sink) -> None:
        """Snapshots, notices and the failure that stops the player go to
        `sink`, on the player's threads (or the caller's while none runs)."""
        self._sink = sink

    def start(self) -> None:
        for target, name in ((self.index, "auditop-replay-index"),
                             (self._loop, "auditop-replay")):
            thread = threading.Thread(target=self._guarded(target), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Returns at once; the threads end within a moment."""
        self._stop.set()
        self._commands.put(None)

    def close(self) -> None:
        self.stop()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._reader is not None:
            self._reader.close()

    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def problems(self) -> tuple[int, list[str]]:
        """(problems so far: lines and parts of lines skipped, the first
        PROBLEMS_KEPT of them)."""
        with self._index.lock:
            return self._index.problems, list(self._index.first_problems)

    @property
    def skipped(self) -> int:
        """Lines skipped so far (every line of the file is a window or one of these)."""
        with self._index.lock:
            return self._index.skipped

    def plot_points(self) -> list[tuple[float, int | None, float | None, int | None]]:
        """(time, backlog peak, lost/s, backlog_limit) of every window up to
        the one on screen: the history so far, for a chart."""
        index = self._index
        with index.lock:
            end = self._position + 1
            return [(t, None if p == NONE else p, None if math.isnan(lost) else lost,
                     None if limit == NONE else limit)
                    for t, p, lost, limit in zip(index.times[:end], index.peaks[:end],
                                                 index.lost[:end], index.limits[:end])]

    # -- the controls -------------------------------------------------------------------

    def toggle_pause(self) -> None:
        self._do(self._toggle_pause)

    def step(self, count: int) -> None:
        """Pause and move `count` windows (negative: back)."""
        self._do(lambda: self._step(count))

    def next_finding(self, direction: int = 1) -> None:
        """Pause at the next (direction -1: previous) window where a warning
        or critical finding begins."""
        self._do(lambda: self._find(direction))

    def jump(self, to_end: bool) -> None:
        self._do(lambda: self._move_to(len(self._index) - 1 if to_end else 0, pause=True))

    def goto(self, spec: TimeSpec) -> None:
        """Pause at the window that covers the time `spec` names (an offset
        counts from the recording's start, as --from does); a notice naming
        the span when it is outside the windows read."""
        self._do(lambda: self._goto(spec))

    def search(self, text: str) -> None:
        """Pause at the next window (wrapping around to the first) where a
        finding matching `text` begins: one the window before did not have
        whose id, severity or title holds every word of `text` (any case)."""
        self._do(lambda: self._search(text))

    def span(self) -> tuple[float, float] | None:
        """(when the first window began, when the last one read closed)."""
        index = self._index
        with index.lock:
            if not len(index.times) or index.began is None:
                return None
            return index.began, index.times[-1]

    def faster(self) -> None:
        self._do(lambda: self._set_speed(next((s for s in SPEEDS if s > self._speed * 1.001),
                                              self._speed)))

    def slower(self) -> None:
        self._do(lambda: self._set_speed(next((s for s in reversed(SPEEDS)
                                               if s < self._speed / 1.001), self._speed)))

    def tick(self) -> int:
        """Show every window due by now; how many were shown."""
        shown = self._play_due()
        if shown:
            self._publish()
        return shown

    def index(self, limit: int | None = None) -> None:
        """Read the rest of the file into the index (the indexer thread's
        work; `limit`: at most this many more lines, for tests)."""
        reported = self._clock()
        count = 0
        while not self._stop.is_set() and (limit is None or count < limit):
            if not self._index_next():
                break
            count += 1
            if self._threads and self._clock() - reported >= PROGRESS_EVERY:
                reported = self._clock()
                self._commands.put(self._publish)  # the title shows how far it has read
        if self._index.complete:
            problems, first = self.problems
            if problems:
                self._notice(f"{problems_text(problems, self.skipped)} (first: {first[0]})")
            if self._threads:
                self._commands.put(self._publish)
            else:
                self._publish()

    # -- the player's thread ------------------------------------------------------------

    def _guarded(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as error:  # noqa: BLE001 - a bug here must reach the user as one
                self.failure = error
                self._stop.set()
                if self._sink is not None:
                    self._sink(Failure(error))
                else:
                    raise
        return run

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = 0.25 if self._due is None else min(max(self._due - self._clock(), 0.0), 0.25)
            try:
                command = self._commands.get(timeout=wait)
            except queue.Empty:
                command = None
            if command is not None:
                command()
            self.tick()

    def _do(self, command: Callable[[], None]) -> None:
        def run() -> None:
            command()
            self._publish()
        if self._threads:
            self._commands.put(run)
        else:
            run()

    def _notice(self, text: str) -> None:
        if self._sink is not None:
            self._sink(Notice(text))

    # -- moving -------------------------------------------------------------------------

    def _index_next(self) -> bool:
        """Read one more line into the index; False at the end of the file."""
        try:
            offset, item = next(self._scan)
        except StopIteration:
            self._index.complete = True
            self._index.read = self._size
            return False
        if isinstance(item, str):
            if len(self._index) or not self._stretch.active:  # not before the stretch
                self._index.problem(item)
        else:
            verdict = self._stretch.take(item.time, item.seconds)
            if verdict == AFTER:  # past --to: nothing more is wanted
                self._scan.close()
                self._index.complete = True
                self._index.read = self._size
                return False
            if verdict == INSIDE:
                self._index.add(offset, item)
        self._index.read = offset
        return True

    def _gap(self) -> float:
        """Seconds of recording between the window on screen and the next."""
        index, at = self._index, self._position
        with index.lock:
            if at + 1 >= len(index.times):
                return 1.0
            return min(max(index.times[at + 1] - index.times[at], 0.0), MAX_PAUSE)

    def _play_due(self) -> int:
        shown = 0
        now = self._clock()
        while self._due is not None and self._due <= now and shown < BATCH:
            if self._position + 1 >= len(self._index):
                if self._index.complete:
                    self._due = None  # the end: stay on the last window
                    self._paused = True
                else:
                    self._due = now + 0.05  # the indexer has not got there yet
                break
            shown_at = self._due
            self._forward()
            self._due = shown_at + self._gap() / self._speed
            shown += 1
        if shown >= BATCH:
            self._due = now  # behind: catch up on the next tick, from now
        return shown

    def _read(self, at: int) -> tuple[Window, tuple[Finding, ...]]:
        index = self._index
        with index.lock:
            offset, line_no = index.offsets[at], index.lines[at]
        recorded = self._reader.read(offset, line_no)
        if recorded is None:
            raise OSError(f"{self.name}: line {line_no} changed while it was replayed")
        return as_window(recorded), recorded.findings

    def _forward(self) -> None:
        self._position += 1
        self._shown.append(self._read(self._position))

    def _back(self) -> None:
        self._shown.pop()
        self._position -= 1
        oldest = self._position - len(self._shown)
        if oldest >= 0 and len(self._shown) < WINDOWS_KEPT:
            self._shown.appendleft(self._read(oldest))

    def _seek(self, at: int) -> None:
        first = max(0, at - WINDOWS_KEPT + 1)
        self._shown = deque((self._read(i) for i in range(first, at + 1)),
                            maxlen=WINDOWS_KEPT)
        self._position = at

    def _move_to(self, at: int, *, pause: bool) -> None:
        at = max(0, min(at, len(self._index) - 1))
        if abs(at - self._position) > STEP_READS:
            self._seek(at)
        while self._position < at:
            self._forward()
        while self._position > at:
            self._back()
        if pause:
            self._paused, self._due = True, None

    def _step(self, count: int) -> None:
        target = self._position + count
        if target < 0:
            self._notice("the first window of the recording")
        elif target >= len(self._index):
            self._notice("the last window of the recording" if self._index.complete else
                         "the last window read so far")
        self._move_to(target, pause=True)

    def _find(self, direction: int) -> None:
        index = self._index
        with index.lock:
            onsets = list(index.onsets)
        if direction > 0:
            found = next((at for at in onsets if at > self._position), None)
        else:
            found = next((at for at in reversed(onsets) if at < self._position), None)
        if found is None:
            where = "after this window" if direction > 0 else "before this window"
            so_far = "" if index.complete or direction < 0 else " (in the part read so far)"
            self._notice(f"no warning or critical finding begins {where}{so_far}")
            return
        self._move_to(found, pause=True)
        _, findings = self._shown[-1]
        before = {f.id for f in self._shown[-2][1]} if len(self._shown) > 1 else set()
        titles = ", ".join(f.title for f in findings
                           if f.severity in ONSET and f.id not in before)
        self._notice(f"window {found + 1}: {titles}")

    def _goto(self, spec: TimeSpec) -> None:
        index = self._index
        span = self.span()
        if span is None:
            return
        what = ("the part read so far" if not index.complete else
                "the replay's --from / --to" if self._stretch.active else "the recording")
        try:
            at = resolve(spec, start=span[0], end=span[1], origin=self._stretch.first,
                         what=what)
        except BadRange as error:
            self._notice(str(error))
            return
        with index.lock:  # the window that covers it: the first to close at or after it
            found = min(bisect.bisect_left(index.times, at), len(index.times) - 1)
        self._move_to(found, pause=True)

    def _search(self, text: str) -> None:
        words = text.lower().split()
        if not words:
            return
        index = self._index
        with index.lock:
            sets = [[title for id_, severity, title in found
                     if all(word in f"{id_} {severity} {title}".lower() for word in words)]
                    for found in index.finding_sets]
            per_window = list(index.finding_set)
        matched = [bool(sets[set_id]) for set_id in per_window]
        onsets = [at for at, hit in enumerate(matched) if hit and (at == 0 or not matched[at - 1])]
        if not onsets:
            so_far = "" if index.complete else " (in the part read so far)"
            self._notice(f'no window matches "{text.strip()}"{so_far}')
            return
        found = next((at for at in onsets if at > self._position), None)
        wrapped = found is None
        if wrapped:
            found = onsets[0]
        self._move_to(found, pause=True)
        with index.lock:
            closed = index.times[found]
        again = " (from the start again)" if wrapped else ""
        self._notice(f"window {found + 1}, {clock_text(closed)}: "
                     f"{', '.join(sets[per_window[found]])}{again}")

    def _toggle_pause(self) -> None:
        if self._paused and self._index.complete and self._position >= len(self._index) - 1:
            self._move_to(0, pause=False)  # at the end: play again from the start
        self._paused = not self._paused
        self._due = None if self._paused else self._clock() + self._gap() / self._speed

    def _set_speed(self, speed: float) -> None:
        if speed == self._speed:
            self._notice(f"speed is already {speed:g}x, the "
                         f"{'fastest' if speed >= SPEEDS[-1] else 'slowest'} step")
            return
        if self._due is not None:  # the wait under way, at the new speed
            left = max(self._due - self._clock(), 0.0)
            self._due = self._clock() + left * self._speed / speed
        self._speed = speed

    # -- publishing ---------------------------------------------------------------------

    def _publish(self) -> None:
        index = self._index
        with index.lock:
            problems, first = index.problems, (index.first_problems or [None])[0]
            known, found = len(index.offsets), index.found
        self.state = ReplayState(
            path=self.name, position=self._position, known=known, complete=index.complete,
            read_fraction=min(index.read / self._size, 1.0), speed=self._speed,
            paused=self._paused, problems=problems, first_problem=first)
        self._seq += 1
        self._snapshot = replay_snapshot(self._seq, self._shown, found)
        if self._sink is not None:
            self._sink(self._snapshot)


