"""Times in a recording, as a person types them: `--from` / `--to` of
`auditop replay` and `auditop plot`, and the replay's jump key. One parser
for all of them:

    14:03  14:03:20  14:03:20.5      a clock time (local): the first such time in
                                     the recording (recordings may cross midnight)
    2026-12-07T14:03:20              a date and time (a space for the T, a Z or +01:00
    2026-12-07                       after it are fine), or a whole day
    +90  +5m  +1h30m  90s  +1.5m     an offset from the recording's start

A clock time or a date names the second, minute or day typed: "14:03" is in
a recording that starts at 14:03:20. parse() checks the text alone (BadTime,
one line); resolve() places it in a recording once its start and end are
known (BadRange, one line naming the recording's span); Stretch picks the
windows between --from and --to as a recording streams by. Pure: nothing is
read but the local time zone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from auditop.core.text import clock_text, stamp_text

MAX_TEXT = 64  # characters; longer is no time anyone types
FORMATS = ("14:03, 14:03:20, 2026-12-07T14:03:20, or an offset from the start: "
           "+90, +5m, +1h30m, 90s")

_NUMBER = r"\d{1,12}(?:\.\d{1,9})?"
_UNITS = re.compile(rf"\+?(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?")
_PLUS = re.compile(rf"\+(?P<s>{_NUMBER})")
_CLOCK = r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<F>\d{1,6}))?)?"
_CLOCK_ONLY = re.compile(_CLOCK)
_DATE = re.compile(rf"(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}})"
                   rf"(?:[Tt ]{_CLOCK}(?P<tz>[Zz]|[+-]\d{{2}}:?\d{{2}})?)?")
_BARE = re.compile(_NUMBER)


class BadTime(ValueError):
    """Text that is no time; str() is one line for the user."""


class BadRange(ValueError):
    """A time not in the recording, or a range with nothing in it; str() is
    one line for the user, naming the recording's span."""


@dataclass(frozen=True, slots=True)
class TimeSpec:
    text: str  # as typed (stripped), for messages
    kind: Literal["offset", "clock", "date"]
    seconds: float = 0.0  # an offset: seconds after the start
    clock: time | None = None  # a clock time (naive: local)
    moment: datetime | None = None  # a date and time (naive: local)
    precision: float = 0.0  # seconds the text names: 60 for "14:03", 1 for "14:03:20"

    def __str__(self) -> str:
        return self.text


def _show(text: str, most: int = 48) -> str:
    """`text` quoted, its control and non-ASCII characters escaped, cut to
    `most` characters (an escape is up to 10 of them)."""
    shown = repr(text)
    return shown if len(shown) <= most else shown[:most - 3] + "..."


def parse(text: str) -> TimeSpec:
    """A TimeSpec, or BadTime saying what is wrong and what is wanted."""
    said = text.strip()
    if not said:
        raise BadTime(f"no time given (want {FORMATS})")
    if len(said) > MAX_TEXT or not said.isascii():
        raise BadTime(f"not a time: {_show(said)} (want {FORMATS})")
    if said.startswith("-"):
        raise BadTime(f"not a time: {_show(said)} (an offset counts from the start: "
                      "+90, +5m; a time before it is not in the recording)")
    if (found := _PLUS.fullmatch(said)) is not None:
        return _offset(said, float(found["s"]))
    if (found := _UNITS.fullmatch(said)) is not None and any(found[u] for u in "hms"):
        seconds = sum(float(found[unit] or 0) * scale
                      for unit, scale in (("h", 3600), ("m", 60), ("s", 1)))
        return _offset(said, seconds)
    if (found := _CLOCK_ONLY.fullmatch(said)) is not None:
        return TimeSpec(said, "clock", clock=_clock(said, found),
                        precision=_precision(found))
    if (found := _DATE.fullmatch(said)) is not None:
        return _date(said, found)
    if _BARE.fullmatch(said):
        raise BadTime(f"not a time: {_show(said)} (an offset needs a + or a unit: "
                      f"+{said} or {said}s; a clock time a colon: {said}:00)")
    raise BadTime(f"not a time: {_show(said)} (want {FORMATS})")


def _offset(text: str, seconds: float) -> TimeSpec:
    if not math.isfinite(seconds):  # not reachable with 12 digits; kept for safety
        raise BadTime(f"offset too large: {_show(text)}")
    return TimeSpec(text, "offset", seconds=seconds)


def _precision(found: re.Match) -> float:
    if found["S"] is None:
        return 60.0
    return 10.0 ** -len(found["F"]) if found["F"] else 1.0


def _clock(text: str, found: re.Match) -> time:
    hour, minute, second = int(found["H"]), int(found["M"]), int(found["S"] or 0)
    micro = int((found["F"] or "").ljust(6, "0") or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise BadTime(f"no such time of day: {_show(text)} (00:00 to 23:59:59)")
    return time(hour, minute, second, micro)


def _date(text: str, found: re.Match) -> TimeSpec:
    try:
        day = date(int(found["y"]), int(found["mo"]), int(found["d"]))
    except ValueError:
        raise BadTime(f"no such date: {_show(text)}") from None
    if found["H"] is None:
        return TimeSpec(text, "date", moment=datetime.combine(day, time()),
                        precision=86400.0)
    zone = None
    if found["tz"]:
        zone = timezone.utc if found["tz"] in "Zz" else _zone(text, found["tz"])
    moment = datetime.combine(day, _clock(text, found), tzinfo=zone)
    return TimeSpec(text, "date", moment=moment, precision=_precision(found))


def _zone(text: str, said: str) -> timezone:
    digits = said[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise BadTime(f"no such time zone: {_show(text)}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if said.startswith("-") else offset)


def offset_text(seconds: float) -> str:
    """An offset as parse() reads it back: "+1h30m5s", "+0s", "+2.5s"."""
    whole, rest = divmod(seconds, 1)
    hours, left = divmod(int(whole), 3600)
    minutes, secs = divmod(left, 60)
    parts = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if secs or rest or not parts:
        parts += f"{secs + rest:g}s" if rest else f"{secs}s"
    return "+" + parts


# -- in a recording ------------------------------------------------------------------

def instant(spec: TimeSpec, *, start: float, after: float | None = None) -> float:
    """Epoch seconds `spec` names in a recording that starts at `start`: an
    offset counts from `start`; a clock time is the first such time whose
    second or minute (as typed) ends after `after` (default: the start)."""
    if spec.kind == "offset":
        return start + spec.seconds
    if spec.kind == "date":
        return spec.moment.timestamp()  # naive: local time
    base = start if after is None else after
    day = datetime.fromtimestamp(base).date() - timedelta(days=1)
    for shift in range(4):  # yesterday's (a zone's odd hours) to the day after tomorrow
        moment = datetime.combine(day + timedelta(days=shift), spec.clock).timestamp()
        if moment + spec.precision > base:
            return moment
    return moment


def within(spec: TimeSpec, at: float, start: float, end: float) -> bool:
    """Whether the time `spec` named (at `at`) is in the span from `start` to
    `end`: its second, minute or day as typed overlaps it."""
    return _not_before(spec, at, start) and at <= end


def _not_before(spec: TimeSpec, at: float, start: float) -> bool:
    return at >= start or at + spec.precision > start


def span_text(start: float, end: float) -> str:
    """"2026-12-07 14:03:20 to 14:40:02", the date twice when it changes."""
    last = clock_text(end) if stamp_text(end)[:10] == stamp_text(start)[:10] \
        else stamp_text(end)
    return f"{stamp_text(start)} to {last}"


def resolve(spec: TimeSpec, *, start: float, end: float, origin: float | None = None,
            what: str = "the recording") -> float:
    """The instant `spec` names in a span from `start` to `end` (`origin`:
    where offsets and clock times count from, default `start`); BadRange
    naming the span when it is not in it."""
    origin = start if origin is None else origin
    at = instant(spec, start=origin, after=max(origin, start) if spec.kind == "clock"
                 else None)
    if not within(spec, at, start, end):
        raise BadRange(f"{spec.text} is outside {what}: {span_text(start, end)}")
    return at


BEFORE, INSIDE, AFTER = -1, 0, 1


class Stretch:
    """The windows of a recording from `start` to `end` (TimeSpecs; None: the
    recording's own start or end), picked as the recording streams by. A
    window is in it when it covers any time from --from to --to: it closes
    at or after --from and began before --to. --to counts from --from: the
    first such clock time after it. take() each window in turn; once it says
    AFTER, nothing later is wanted; then, or at the end of the recording,
    finish() raises BadRange for a time outside the recording or a stretch
    without a window."""

    def __init__(self, start: TimeSpec | None = None, end: TimeSpec | None = None) -> None:
        self.start, self.end = start, end
        self.first: float | None = None  # the recording's start
        self.last: float | None = None  # the latest window's close seen
        self.taken = 0
        self.ended = False  # a window past --to has come
        self._gap: tuple[float, float] | None = None  # around an empty stretch
        self._from: float | None = None
        self._to: float | None = None

    def take(self, closed: float, seconds: float) -> int:
        """BEFORE, INSIDE or AFTER the stretch: the window that closed at
        `closed` (epoch seconds), `seconds` long. Raises BadRange when --to
        is not after --from."""
        began = closed - max(seconds, 0.0)
        if self.first is None:
            self.first = began
            if self.start is not None:
                self._from = instant(self.start, start=began)
            if self.end is not None:
                self._to = instant(self.end, start=began, after=self._from)
                if self._from is not None and self._to <= self._from:
                    raise BadRange(f"--to {self.end} is not after --from {self.start}")
        before = self.last
        self.last = closed if self.last is None else max(self.last, closed)
        if self._from is not None and closed < self._from:
            return BEFORE
        if self._to is not None and began >= self._to:
            # said only once --to is known to be in the recording; else it
            # reads on to the end, to name the whole span in finish()
            self.ended = _not_before(self.end, self._to, self.first)
            if self.ended and not self.taken and before is not None:
                self._gap = (before, began)
            return AFTER if self.ended else BEFORE
        self.taken += 1
        return INSIDE

    def finish(self) -> None:
        """At the end of the recording (or after AFTER): BadRange for --from
        or --to outside the recording, or for a stretch without a window."""
        if self.first is None:
            return  # no window at all: the reader says so
        for flag, spec, at in (("--from", self.start, self._from), ("--to", self.end, self._to)):
            if spec is not None and not within(spec, at, self.first, self.last):
                raise BadRange(f"{flag} {spec} is outside the recording: "
                               f"{span_text(self.first, self.last)}")
        if not self.taken:
            where = (f"a gap from {clock_text(self._gap[0])} to {clock_text(self._gap[1])}"
                     if self._gap else f"none there ({span_text(self.first, self.last)})")
            raise BadRange(f"no window from --from {self.start} to --to {self.end}: the "
                           f"recording has {where}")

    @property
    def active(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def settled(self) -> bool:
        """Whether finish() is known to pass without reading further: --from
        in the recording, a window taken, and a window past --to (if given)."""
        if self.start is not None and not (
                self.taken and _not_before(self.start, self._from, self.first)):
            return False
        return self.end is None or self.ended
