"""The auditd process: is it there, is it stopped (state T), since when."""

from __future__ import annotations

import os

from auditop.core.model import AuditdProcess
from auditop.probes._files import read_text

# Boot time never changes while the system runs; one read per proc root.
_btime_cache: dict[str, float | None] = {}


def auditd_process(pid: int | None, proc_root: str = "/proc") -> AuditdProcess | None:
    """The process `pid` from /proc/<pid>/stat, or None if pid is unset or gone."""
    if not pid or pid < 0:
        return None
    text = read_text(os.path.join(proc_root, str(pid), "stat"))
    if text is None:
        return None
    return parse_stat(pid, text, _boot_time(proc_root))


def parse_stat(pid: int, text: str, btime: float | None) -> AuditdProcess | None:
    """Parse /proc/<pid>/stat text; None if it is malformed.

    comm sits in parentheses and may itself hold spaces and ')', so the
    fields after it start at the LAST ')'.
    """
    open_paren = text.find("(")
    close_paren = text.rfind(")")
    if open_paren < 0 or close_paren < open_paren:
        return None
    name = text[open_paren + 1 : close_paren]
    fields = text[close_paren + 1 :].split()  # fields[0] is field 3 (state)
    if not fields:
        return None
    return AuditdProcess(pid=pid, name=name, state=fields[0], start_time=_start_time(fields, btime))


def _start_time(fields: list[str], btime: float | None) -> float | None:
    """Field 22 (clock ticks after boot) as epoch seconds."""
    if btime is None or len(fields) <= 19:
        return None
    try:
        ticks = int(fields[19])
    except ValueError:
        return None
    hz = _clock_ticks()
    return None if hz is None else btime + ticks / hz


def _clock_ticks() -> int | None:
    try:
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    return hz if hz > 0 else None


def _boot_time(proc_root: str) -> float | None:
    if proc_root not in _btime_cache:
        _btime_cache[proc_root] = _read_btime(os.path.join(proc_root, "stat"))
    return _btime_cache[proc_root]


def _read_btime(path: str) -> float | None:
    text = read_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "btime":
            try:
                return float(int(parts[1]))
            except ValueError:
                return None
    return None
