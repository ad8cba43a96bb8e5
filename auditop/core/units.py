"""How a time the kernel keeps in jiffies is written for a person.

backlog_wait_time and backlog_wait_time_actual are jiffies: 1/HZ seconds,
where HZ is a build option (250 on Debian, 1000 on Fedora and RHEL). 15000
jiffies is 60 s at HZ 250 and 15 s at HZ 1000, so a number without its HZ
means little. auditop reads HZ from /proc/config.gz (probes/boot.py); when
the kernel does not say, the raw jiffies are all it shows. The JSON keeps
raw jiffies always.
"""

from __future__ import annotations


def jiffies_seconds(jiffies: float | None, hz: int | None) -> float | None:
    """Seconds, or None when either is unknown (HZ 0 is unknown too)."""
    if jiffies is None or not hz:
        return None
    return jiffies / hz


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


def seconds_text(seconds: float) -> str:
    """60 s, 2.5 s, 40 ms, 10 min, 1.5 h: short, never in scientific notation."""
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


def jiffies_text(jiffies: int | None, hz: int | None) -> str:
    """"15000 jiffies (60 s at HZ 250)", "15000 jiffies (HZ unknown)", "unknown"."""
    if jiffies is None:
        return "unknown"
    seconds = jiffies_seconds(jiffies, hz)
    if seconds is None:
        return f"{jiffies} {_jiffies(jiffies)} (HZ unknown)"
    return f"{jiffies} {_jiffies(jiffies)} ({seconds_text(seconds)} at HZ {hz})"


def _jiffies(n: int) -> str:
    return "jiffy" if n == 1 else "jiffies"


def wait_rate_text(jiffies_per_s: float | None, hz: int | None) -> str:
    """The growth of backlog_wait_time_actual: seconds slept per second of
    time ("2.0 s asleep per second"), or jiffies per second without HZ."""
    if jiffies_per_s is None:
        return "unknown"
    seconds = jiffies_seconds(jiffies_per_s, hz)
    if seconds is None:
        return f"{rate_number(jiffies_per_s)} jiffies per second (HZ unknown)"
    return f"{seconds_text(seconds)} asleep per second"
