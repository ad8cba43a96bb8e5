"""Samples -> display windows (pure).

A window covers one display interval and summarises every sample in it: the
backlog *peak* (so a 150 ms burst between two screen refreshes is not lost),
and counter growth turned into per-second rates. A counter that goes down
(`auditctl --reset-lost`, a new auditd socket) is a reset: the rate counts
from zero again, never negative. The three counters are u32 in the kernel
(`lost`, `backlog_wait_time_actual`, a socket's drops) and wrap past
4294967295: a drop from the upper half (>= 2**31) whose growth across the
wrap (new + 2**32 - old) the time between the two readings makes plausible
(WRAP_MAX_PER_S, at least one second's worth) is a wrap and counts that
growth; any other drop is a reset. So 4294967000 -> 500 is 796 more, and
3000000000 -> 500 (1.3 billion in a tenth of a second) a reset.

Windows sit on a fixed grid. The first sample starts a window whose deadline
is its mono + interval; the first sample at or past the deadline closes it
(or tick(), when the kernel holds the poller and no sample comes), stamped
with its deadline however late that comes, and starts the next window,
whose deadline is the old one + interval (not the closing sample's mono +
interval). Jitter therefore never drifts the windows: sampling at 10 Hz
gives exactly one window per interval, ten samples each. After a gap longer than an interval, or after flush(), the
grid restarts at the next sample. A new `interval` applies from the next
window on.

Rates are growth over the time it was measured: the steps between
consecutive readings of a counter (answered samples for `lost` and
`backlog_wait_time_actual`, samples that show auditd's socket for the
netlink drops), counting the step from the previous window's last reading
into this one. A counter's first reading is only a baseline: a window that
holds nothing but it (a lone first sample) has `lost` 0 and rates None. When
a counter is unreadable (kernel silent, old kernel, no auditd socket) its
rate is None, and the growth is counted when it is readable again, over the
whole gap, and the window says over how long (`lost_seconds`, ...): after a
silence that span is longer than the window. A sample that records a silence
carries no readings at all, and auditd's socket drops are read from /proc at
2 Hz: their reading is stamped with the time /proc was read, not with the
samples that reuse it.

Loss causes are summed per window from the samples that carried them
(kernel log messages that arrived since the sample before): a count of
messages, not of records (core/losses.py).
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from auditop.core.drift import DriftWatch
from auditop.core.losses import RECENT_SECONDS, Causes, add_causes
from auditop.core.model import AuditStatus, Sample, SystemInfo
from auditop.core.producers import WindowProducers

# Absorbs float drift: ten additions of 0.1 give 0.9999999999999999.
_EPSILON = 1e-6
U32_SPAN = 2**32  # the kernel's counters are u32
# Fastest plausible growth of a counter: a flood on every CPU loses some ten
# million records a second; 10x that for a margin. A drop whose growth across
# a wrap would be faster is a reset (see the module docstring).
WRAP_MAX_PER_S = 10**8


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # wall clock of the first sample in the window
    end: float  # wall clock when the window closed (its last sample's, if flushed)
    seconds: float  # mono span since the previous window's last sample (0.0: lone first sample)
    samples: int  # polls the kernel answered
    failures: int  # polls with no answer (timeout, error)
    last: Sample  # newest sample of the window, answered or not
    status: AuditStatus | None  # newest answered status (None: kernel silent all window)
    system: SystemInfo | None  # newest system info read by this window's end
    backlog_peak: int | None  # max backlog over answered samples
    lost: int  # lost events counted in this window (resets handled)
    lost_per_s: float | None
    netlink_drops_per_s: float | None  # on auditd's unicast socket
    wait_per_s: float | None  # growth of backlog_wait_time_actual, jiffies per second
    error: str | None  # the last kernel error seen in the window, if any
    # Seconds each counter's growth was measured over (0.0: only a baseline).
    # Longer than the window after a silence: the growth took that long.
    lost_seconds: float = 0.0
    drops_seconds: float = 0.0
    wait_seconds: float = 0.0
    held_senders: int = 0  # most of auditop's senders the kernel held at once
    held_for: float = 0.0  # the longest the kernel held one, seconds
    # Kernel log messages naming why records were lost, per cause id, and how
    # many more the kernel's printk rate limit suppressed: messages, not records.
    loss_causes: Causes = ()
    loss_suppressed: int = 0
    # Records kauditd printed to the kernel log instead of delivering them:
    # they left the pipeline without being counted in `lost`.
    records_printed: int = 0
    # Who produced the window's records (issue 16, core/producers.py): the
    # source's counts drained when the window closed; None when nobody
    # counted (no listener, a source without producers, an old recording).
    producers: WindowProducers | None = None


@dataclass(frozen=True, slots=True)
class _Reading:
    mono: float
    value: int
    source: int | None = None  # a different source (a new socket inode) restarts the counter


def _lost(sample: Sample) -> _Reading | None:
    lost = sample.status.lost if sample.status else None
    return None if lost is None else _Reading(sample.mono, lost)


def _wait(sample: Sample) -> _Reading | None:
    waited = sample.status.backlog_wait_time_actual if sample.status else None
    return None if waited is None else _Reading(sample.mono, waited)


def _drops(sample: Sample) -> _Reading | None:
    system = sample.system
    socket = system.auditd_socket if system is not None else None
    if socket is None:
        return None
    read_at = system.read_at if system.read_at is not None else sample.mono
    return _Reading(read_at, socket.drops, socket.inode)


_COUNTERS: dict[str, Callable[[Sample], _Reading | None]] = {
    "lost": _lost, "wait": _wait, "drops": _drops,
}


@dataclass(frozen=True, slots=True)
class _Growth:
    total: int
    per_s: float | None
    seconds: float  # the real time the growth took
    last: _Reading | None  # the baseline for the next window


def _growth(baseline: _Reading | None, readings: list[_Reading]) -> _Growth:
    total, seconds, previous = 0, 0.0, baseline
    for reading in readings:
        if previous is not None:
            if reading.mono <= previous.mono and reading.source == previous.source:
                continue  # the same /proc reading again
            total += _step(previous, reading)
            seconds += max(reading.mono - previous.mono, 0.0)
        previous = reading
    return _Growth(total, total / seconds if seconds > 0 else None, seconds, previous)


def _step(previous: _Reading, reading: _Reading) -> int:
    """A counter's growth from one reading to the next: the difference; across
    a u32 wrap, the difference through 2**32; after a reset, the new value."""
    if reading.source != previous.source:
        return reading.value  # a new socket counts from zero
    if reading.value >= previous.value:
        return reading.value - previous.value
    wrapped = u32_wrap_growth(previous.value, reading.value, reading.mono - previous.mono)
    return reading.value if wrapped is None else wrapped


def u32_wrap_growth(old: int, new: int, seconds: float) -> int | None:
    """The growth of a u32 counter that went from `old` down to `new` in
    `seconds`, when that is a wrap past 2**32 (old in the upper half, the
    growth through 2**32 within what WRAP_MAX_PER_S allows in that time);
    None when it is a reset. The one rule for every reader of a counter."""
    wrapped = new + U32_SPAN - old
    plausible = WRAP_MAX_PER_S * max(seconds, 1.0)
    if old >= U32_SPAN // 2 and wrapped <= min(plausible, U32_SPAN // 2):
        return wrapped
    return None


class History:
    """Collects samples and closes a Window every `interval` seconds."""

    def __init__(self, interval: float = 1.0, capacity: int = 600) -> None:
        self.interval = interval  # settable; applies from the next window
        self.windows: deque[Window] = deque(maxlen=capacity)
        self.latest: Sample | None = None
        self.last_answered: Sample | None = None  # newest sample with a status
        self.last_system: SystemInfo | None = None  # newest system info read
        self._first_mono: float | None = None
        self._current: list[Sample] = []
        self._deadline: float | None = None  # mono at which the current window closes
        self._previous_last: Sample | None = None  # last sample of the previous window
        self._baselines: dict[str, _Reading | None] = dict.fromkeys(_COUNTERS)
        self.drift = DriftWatch()  # settings changed underneath auditop (core/drift.py)
        # Asked once as each window closes for the records counted since the
        # last close (a source's producers(), set by the Monitor): None, or
        # returning None, leaves the window's `producers` None.
        self.producers: Callable[[], WindowProducers | None] | None = None

    def add(self, sample: Sample) -> Window | None:
        """Add one sample; return the window it closed, if it closed one."""
        closed = None
        if self._current and sample.mono >= self._deadline - _EPSILON:
            closed = self._close(self._deadline_time())
        if not self._current:
            self._deadline = self._next_deadline(sample.mono)
        self._current.append(sample)
        self.latest = sample
        if sample.status is not None:
            self.last_answered = sample
        if sample.system is not None:
            self.last_system = sample.system
        if self._first_mono is None:
            self._first_mono = sample.mono
        self.drift.observe(sample)
        return closed

    def tick(self, mono: float) -> Window | None:
        """Close the current window if its time is up, though no sample came:
        while the kernel holds the poller, windows still close on time."""
        if self._current and mono >= self._deadline - _EPSILON:
            return self._close(self._deadline_time())
        return None

    @property
    def closes_at(self) -> float | None:
        """When the current window is due to close (monotonic); None before a sample."""
        return self._deadline if self._current else None

    def _deadline_time(self) -> float:
        """The current window's deadline in wall-clock time: a window ends on
        the grid, however late the sample or the check that closes it comes
        (a poll the kernel delayed, a monitor thread woken 0.25 s apart)."""
        last = self._current[-1]
        return last.time + (self._deadline - last.mono)

    def flush(self) -> Window | None:
        """Close the current (partial) window now, if it holds any sample."""
        if not self._current:
            return None
        self._deadline = None  # the grid restarts at the next sample
        return self._close()

    @property
    def silent_seconds(self) -> float:
        """How long the kernel has not answered (0.0 when the newest sample is answered)."""
        if self.latest is None or self.latest.status is not None:
            return 0.0
        since = self.last_answered.mono if self.last_answered else self._first_mono
        return max(self.latest.mono - since, 0.0)

    def setting_changes(self):
        """Settings changed underneath auditop, as long as they are kept
        (core/drift.py): for a while, and until their window has closed."""
        if self.latest is None:
            return ()
        window = self.windows[-1] if self.windows else None
        since = window.last.mono - window.seconds if window is not None else None
        return self.drift.kept(self.latest.mono, since)

    def _next_deadline(self, mono: float) -> float:
        if self._deadline is not None and mono < self._deadline + self.interval - _EPSILON:
            return self._deadline + self.interval
        return mono + self.interval  # first window, after a gap or a flush

    def _close(self, closed_at: float | None = None) -> Window:
        samples, self._current = self._current, []
        growth = {}
        for name, read in _COUNTERS.items():
            readings = [r for r in map(read, samples) if r is not None]
            growth[name] = _growth(self._baselines[name], readings)
            self._baselines[name] = growth[name].last
        answered = [s.status for s in samples if s.status is not None]
        first, last = samples[0], samples[-1]
        since = self._previous_last or first
        self._previous_last = last
        window = Window(
            start=first.time,
            end=last.time if closed_at is None else closed_at,
            seconds=max(last.mono - since.mono, 0.0),
            samples=len(answered),
            failures=len(samples) - len(answered),
            last=last,
            status=answered[-1] if answered else None,
            system=self.last_system,
            backlog_peak=max((s.backlog for s in answered if s.backlog is not None), default=None),
            lost=growth["lost"].total,
            lost_per_s=growth["lost"].per_s,
            netlink_drops_per_s=growth["drops"].per_s,
            wait_per_s=growth["wait"].per_s,
            error=next((s.error for s in reversed(samples) if s.error is not None), None),
            lost_seconds=growth["lost"].seconds,
            drops_seconds=growth["drops"].seconds,
            wait_seconds=growth["wait"].seconds,
            held_senders=max(s.held_senders for s in samples),
            held_for=max(s.held_for for s in samples),
            loss_causes=add_causes(s.loss_causes for s in samples),
            loss_suppressed=sum(s.loss_suppressed for s in samples),
            records_printed=sum(s.records_printed for s in samples),
            producers=self.producers() if self.producers is not None else None,
        )
        self.windows.append(window)
        return window


def recent_loss_causes(windows: Iterable[Window], window: Window,
                       seconds: float = RECENT_SECONDS) -> tuple[Causes, float]:
    """The causes that explain `window`'s losses, and how long before its end
    they were last named: its own (0.0), or, when the kernel's rate limit left
    it without a message, those of the newest of `windows` (oldest first)
    that ended within `seconds` before it. ((), 0.0) when none was named."""
    if window.loss_causes:
        return window.loss_causes, 0.0
    earlier = [w for w in windows if w is not window and w.end <= window.end]
    for other in reversed(earlier):
        if window.end - other.end > seconds:
            break
        if other.loss_causes:
            return other.loss_causes, window.end - other.end
    return (), 0.0


def forecast_seconds_to_full(history: History, last: int = 5) -> float | None:
    """Seconds until the backlog reaches backlog_limit if its peak keeps
    rising as it did over the last `last` windows (least-squares slope of
    peak against time); 0.0 when already there; None when not rising, when
    the limit is 0 (unlimited) or when either is unknown."""
    status = history.last_answered.status if history.last_answered else None
    return forecast_from(list(history.windows)[-last:], status)


def forecast_from(recent: Sequence[Window], status: AuditStatus | None) -> float | None:
    """forecast_seconds_to_full over these windows and the newest status
    (a replay has windows but no History)."""
    limit = status.backlog_limit if status else None
    points = [(w.last.mono, w.backlog_peak) for w in recent if w.backlog_peak is not None]
    if not limit or len(points) < 2:
        return None
    times, peaks = zip(*points)
    try:
        slope = statistics.linear_regression(times, peaks).slope
    except statistics.StatisticsError:  # all windows at the same instant
        return None
    if slope <= 0:
        return None
    return max((limit - peaks[-1]) / slope, 0.0)
