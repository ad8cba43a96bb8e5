"""Boot-time facts: audit= and audit_backlog_limit= on the kernel command
line, and the kernel's HZ (backlog_wait_time is in jiffies)."""

from __future__ import annotations

import gzip
import os
import re
import zlib

from auditop.core.model import BootParams
from auditop.probes._files import read_text

# A kernel parameter: unquoted text, or a double-quoted part that may hold spaces.
_PARAM = re.compile(r'(?:"[^"]*"?|[^\s"]+)+')
_U32_MAX = 2**32 - 1

# Neither the command line nor the kernel config changes while we run.
_boot_cache: dict[str, BootParams] = {}
_hz_cache: dict[str, int | None] = {}


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


def kernel_hz(proc_root: str = "/proc") -> int | None:
    """CONFIG_HZ from /proc/config.gz (read once), or None if not available."""
    if proc_root not in _hz_cache:
        _hz_cache[proc_root] = _read_config_hz(os.path.join(proc_root, "config.gz"))
    return _hz_cache[proc_root]


def _read_config_hz(path: str) -> int | None:
    try:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("CONFIG_HZ="):
                    return int(line.split("=", 1)[1])
    except (OSError, EOFError, zlib.error, ValueError):
        return None
    return None
