"""How every fact is written for a person: one rule per kind of fact, used by
the findings, `status`, `check`, `plot`, the exporters and the TUI.

    unknown     "?" where the value would stand (`lost ?`, `?/s`, `backlog_wait_time ?`)
    count       the whole number as the kernel gives it: 8192, 1234567 (no separators)
    share       a whole percent of a limit: "50%"; nothing when the limit is unknown or 0
    number      a measured number, never a nonzero one written as 0: 0, <0.01, 0.04,
                0.4, 2.5, 12, 12345 (whole from 10, one decimal below, two below 0.1)
    rate        that number per second: "0.4/s", "12345/s"
    short       where a few cells are all there is (chart labels, plot ticks): three
                significant digits, k / M / G from a thousand on: 0.04, 12.5, 1.7k, 400k
    bytes       binary units, B and KiB whole, MiB and GiB with one decimal: 512 B,
                208 KiB, 8.0 MiB; a size one may type into sysctl also exactly:
                "212992 bytes (208 KiB)"
    duration    40 ms, 0.4 s, 2.5 s, 60 s, 10 min, 1.5 h: minutes from 600 s, hours from
                7200 s; axis ticks the same without the space (30s, 10m, 2h); the time
                between two runs of `check`, exact in two units: 4 min 12 s, 2 h 3 min
    jiffies     the jiffies with their seconds at the kernel's HZ: "15000 jiffies (60 s
                at HZ 250)" in a sentence, "60 s (15000 j)" in the header's cells; the
                jiffies alone when HZ is unknown
    clock       local time "12:00:01"; a day "2026-12-07"; both "2026-12-07 12:00:01"

backlog_wait_time and backlog_wait_time_actual are jiffies: 1/HZ seconds,
where HZ is a build option (250 on Debian, 1000 on Fedora and RHEL). 15000
jiffies is 60 s at HZ 250 and 15 s at HZ 1000, so a number without its HZ
means little. auditop reads HZ from /proc/config.gz (probes/boot.py); when
the kernel does not say, the raw jiffies are all it shows. The JSON keeps
raw jiffies always.
"""

from __future__ import annotations

import time

UNKNOWN = "?"
KIB, MIB, GIB = 1024, 1024 * 1024, 1024 * 1024 * 1024


# --- unknown, counts, shares -------------------------------------------------

def count_text(value: object) -> str:
    """A count or a setting's value as it is; "?" when unknown."""
    return UNKNOWN if value is None else str(value)


def share_text(part: float | None, whole: float | None) -> str:
    """"50%" of a limit; "" when either is unknown or the limit is 0."""
    if part is None or not whole:
        return ""
    return f"{100 * part / whole:.0f}%"


# --- numbers and rates ---------------------------------------------------------

def rate_number(value: float) -> str:
    """A rate (or any measured number) for a person, never a nonzero one
    written as 0: 0, 0.04, 0.4, 2.5, 12, 12345; "<0.01" below 0.01."""
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 10:
        return f"{value:.0f}"
    if size >= 0.1:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.2f}"
    return "<0.01" if value > 0 else f"{value:.1g}"  # rates are never negative


def number_text(value: float | None) -> str:
    """rate_number, "?" when unknown."""
    return UNKNOWN if value is None else rate_number(value)


def rate_text(per_s: float | None) -> str:
    """"0.4/s", "12345/s", "?/s"."""
    return f"{number_text(per_s)}/s"


def short_number(value: float | None) -> str:
    """Three significant digits, k / M / G from a thousand: 0.04, 12.5, 1.7k,
    400k, 1.2M; "<0.01" and never a nonzero value written as 0; "?" when unknown."""
    if value is None:
        return UNKNOWN
    if value != 0 and abs(value) < 0.01:
        return rate_number(value)
    scaled, suffix = value, ""
    for bigger in ("k", "M", "G"):
        if abs(float(f"{scaled:.3g}")) < 1000:  # 999.7 rounds to 1000: 1k
            break
        scaled, suffix = scaled / 1000, bigger
    return f"{scaled:.3g}{suffix}"


# --- bytes --------------------------------------------------------------------

def bytes_text(n: float | None) -> str:
    """512 B, 208 KiB, 8.0 MiB, 1.5 GiB; "?" when unknown."""
    if n is None:
        return UNKNOWN
    if abs(n) < KIB:
        return f"{n:.0f} B"
    if abs(n) < MIB:
        return f"{n / KIB:.0f} KiB"
    if abs(n) < GIB:
        return f"{n / MIB:.1f} MiB"
    return f"{n / GIB:.1f} GiB"


def exact_bytes_text(n: int | None) -> str:
    """A size one may type: "212992 bytes (208 KiB)"; "?" when unknown."""
    if n is None:
        return UNKNOWN
    return f"{n} bytes ({bytes_text(n)})"


# --- durations and jiffies ----------------------------------------------------

def seconds_text(seconds: float | None) -> str:
    """60 s, 2.5 s, 40 ms, 10 min, 1.5 h: short, never in scientific notation;
    "?" when unknown."""
    if seconds is None:
        return UNKNOWN
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 600:
        return f"{seconds / 60:.0f} min"
    if seconds >= 10 or seconds == int(seconds):
        return f"{seconds:.0f} s"
    if seconds >= 0.1:
        return f"{seconds:.1f} s"
    if seconds * 1000 < 0.5:  # 0.4 ms is not "0 ms"
        return f"{rate_number(seconds * 1000)} ms"
    return f"{seconds * 1000:.0f} ms"


def elapsed_text(seconds: float) -> str:
    """Wall time between two events one compares (two runs of `check`), in
    two units where it takes two: 0.4 s, 12 s, 4 min 12 s, 2 h 3 min, 3 d 4 h."""
    if seconds < 10:
        return seconds_text(seconds)
    days, rest = divmod(round(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def tick_text(seconds: float) -> str:
    """A duration on a time axis, where cells are few: 5s, 30s, 120s, 10m, 2h
    (seconds_text's steps, without the space)."""
    if seconds >= 7200:
        return f"{seconds / 3600:g}h"
    if seconds >= 600:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def jiffies_seconds(jiffies: float | None, hz: int | None) -> float | None:
    """Seconds, or None when either is unknown (HZ 0 is unknown too)."""
    if jiffies is None or not hz:
        return None
    return jiffies / hz


def jiffies_text(jiffies: int | None, hz: int | None) -> str:
    """In a sentence: "15000 jiffies (60 s at HZ 250)", "15000 jiffies (HZ
    unknown)", "?"."""
    if jiffies is None:
        return UNKNOWN
    seconds = jiffies_seconds(jiffies, hz)
    if seconds is None:
        return f"{jiffies} {_jiffies(jiffies)} (HZ unknown)"
    return f"{jiffies} {_jiffies(jiffies)} ({seconds_text(seconds)} at HZ {hz})"


def jiffies_cell(jiffies: int | None, hz: int | None) -> str:
    """In the header, where cells are few: "60 s (15000 j)", "15000 j" when HZ
    is unknown, "?"."""
    if jiffies is None:
        return UNKNOWN
    seconds = jiffies_seconds(jiffies, hz)
    if seconds is None:
        return f"{jiffies} j"
    return f"{seconds_text(seconds)} ({jiffies} j)"


def _jiffies(n: int) -> str:
    return "jiffy" if n == 1 else "jiffies"


def wait_rate_text(jiffies_per_s: float | None, hz: int | None) -> str:
    """The growth of backlog_wait_time_actual: seconds slept per second of
    time ("2.0 s asleep per second"), or jiffies per second without HZ."""
    if jiffies_per_s is None:
        return UNKNOWN
    seconds = jiffies_seconds(jiffies_per_s, hz)
    if seconds is None:
        return f"{rate_number(jiffies_per_s)} jiffies per second (HZ unknown)"
    return f"{seconds_text(seconds)} asleep per second"


# --- clock times ----------------------------------------------------------------

def clock_text(epoch: float) -> str:
    """Local time of day: "12:00:01"."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def minute_text(epoch: float) -> str:
    """Local time to the minute: "12:00"."""
    return time.strftime("%H:%M", time.localtime(epoch))


def day_text(epoch: float) -> str:
    """Local date: "2026-12-07"."""
    return time.strftime("%Y-%m-%d", time.localtime(epoch))


def stamp_text(epoch: float) -> str:
    """Local date and time: "2026-12-07 12:00:01"."""
    return f"{day_text(epoch)} {clock_text(epoch)}"


def url_host(host: str) -> str:
    """A host as a URL or an address writes it: an IPv6 one in brackets
    (once: a host already in brackets stays as it is)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
