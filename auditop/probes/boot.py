"""Boot-time facts: audit= and audit_backlog_limit= on the kernel command
line, and the kernel's HZ (backlog_wait_time is in jiffies).

HZ is a build option. /proc/config.gz exists only with CONFIG_IKCONFIG_PROC;
stock RHEL, Debian and Ubuntu kernels ship /boot/config-$(uname -r) instead.
Where neither is readable, HZ is measured: the `jiffies:` line of
/proc/timer_list (root only) advances by HZ per second of its `now at` clock.
The source is kept beside the figure, so every reader can say where it came
from."""

from __future__ import annotations

import gzip
import os
import re
import time
import zlib

from auditop.core.model import BootParams
from auditop.probes._files import read_text

# A kernel parameter: unquoted text, or a double-quoted part that may hold spaces.
_PARAM = re.compile(r'(?:"[^"]*"?|[^\s"]+)+')
_U32_MAX = 2**32 - 1

# Neither the command line nor the kernel config changes while we run.
_boot_cache: dict[str, BootParams] = {}
_hz_cache: dict[tuple[str, str], tuple[int | None, str | None]] = {}

# The values CONFIG_HZ takes on the architectures audit runs on (1024 and
# 128 were Alpha and IA-64 only); a measurement is rounded to the nearest one within 10 %.
KNOWN_HZ = (24, 48, 100, 250, 300, 1000, 1200)
HZ_MEASURE_SECONDS = 0.1


def parse_cmdline(text: str) -> BootParams:
    """The audit parameters of a /proc/cmdline; the last occurrence wins,
    as in the kernel. Everything after a bare `--` belongs to init."""
    audit = None
    backlog_limit = None
    for param in _PARAM.findall(text):
        if param == "--":
            break
        name, sep, value = param.partition("=")
        if not sep:
            continue
        value = value.strip('"')
        if name == "audit":
            audit = value
        elif name == "audit_backlog_limit":
            backlog_limit = parse_kernel_uint(value)
    return BootParams(audit=audit, audit_backlog_limit=backlog_limit)


def parse_kernel_uint(text: str) -> int | None:
    """A u32 as the kernel's kstrtouint(s, 0) reads it: decimal, 0x hex or
    leading-0 octal, optional '+'. None if the kernel would reject it."""
    text = text.removeprefix("+")
    if text[:2].lower() == "0x":
        digits, base = text[2:], 16
    elif text.startswith("0") and len(text) > 1:
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        value = int(digits, base)
    except ValueError:
        return None
    return value if value <= _U32_MAX else None


def read_boot_params(path: str = "/proc/cmdline") -> BootParams:
    """parse_cmdline of `path`, read once; empty BootParams if unreadable."""
    if path not in _boot_cache:
        text = read_text(path)
        _boot_cache[path] = parse_cmdline(text) if text is not None else BootParams()
    return _boot_cache[path]


def kernel_hz(proc_root: str = "/proc", boot_root: str = "/boot") -> int | None:
    """The kernel's HZ, or None if no source gives it (see kernel_hz_source)."""
    return kernel_hz_reading(proc_root, boot_root)[0]


def kernel_hz_reading(proc_root: str = "/proc", boot_root: str = "/boot"
                      ) -> tuple[int | None, str | None]:
    """(HZ, where it came from), found once: "/proc/config.gz",
    "/boot/config-<release>", "measured from /proc/timer_list", or (None,
    None)."""
    key = (proc_root, boot_root)
    if key not in _hz_cache:
        _hz_cache[key] = _find_hz(proc_root, boot_root)
    return _hz_cache[key]


def _find_hz(proc_root: str, boot_root: str) -> tuple[int | None, str | None]:
    config_gz = os.path.join(proc_root, "config.gz")
    hz = _read_config_hz(config_gz, compressed=True)
    if hz:
        return hz, config_gz
    release = read_text(os.path.join(proc_root, "sys", "kernel", "osrelease"))
    if release and release.strip():
        boot_config = os.path.join(boot_root, f"config-{release.strip()}")
        hz = _read_config_hz(boot_config, compressed=False)
        if hz:
            return hz, boot_config
    timer_list = os.path.join(proc_root, "timer_list")
    hz = measure_hz(timer_list)
    if hz:
        return hz, f"measured from {timer_list}"
    return None, None


def _read_config_hz(path: str, *, compressed: bool) -> int | None:
    try:
        opener = gzip.open if compressed else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("CONFIG_HZ="):
                    value = int(line.split("=", 1)[1])
                    return value if value > 0 else None
    except (OSError, EOFError, zlib.error, ValueError):
        return None
    return None


_NOW = re.compile(r"^now at (\d+) nsecs$", re.M)
_JIFFIES = re.compile(r"^jiffies: (\d+)$", re.M)


def parse_timer_list(text: str) -> tuple[int, int] | None:
    """(`now at` nanoseconds, jiffies) of one /proc/timer_list reading."""
    now, jiffies = _NOW.search(text), _JIFFIES.search(text)
    if now is None or jiffies is None:
        return None
    return int(now.group(1)), int(jiffies.group(1))


def hz_from_readings(first: tuple[int, int], second: tuple[int, int]) -> int | None:
    """HZ from two timer_list readings: jiffies advanced per second of the
    kernel's clock, rounded to the nearest known CONFIG_HZ within 10 %.
    jiffies is an unsigned long that starts 5 minutes before its wrap, so
    the difference is taken modulo 2**64 (32-bit kernels: 2**32)."""
    nanos = second[0] - first[0]
    if nanos <= 0:
        return None
    ticks = (second[1] - first[1]) % (2**64 if first[1] >= 2**32 or second[1] >= 2**32
                                      else 2**32)
    rate = ticks * 1e9 / nanos
    nearest = min(KNOWN_HZ, key=lambda hz: abs(hz - rate))
    return nearest if abs(nearest - rate) <= 0.1 * nearest else None


def measure_hz(timer_list: str = "/proc/timer_list",
               seconds: float = HZ_MEASURE_SECONDS) -> int | None:
    """HZ measured over `seconds` from /proc/timer_list; None if unreadable
    (it is root only) or the figure is no known HZ."""
    first = _timer_reading(timer_list)
    if first is None:
        return None
    time.sleep(seconds)
    second = _timer_reading(timer_list)
    return hz_from_readings(first, second) if second is not None else None


def _timer_reading(path: str) -> tuple[int, int] | None:
    text = read_text(path)
    return parse_timer_list(text) if text is not None else None
