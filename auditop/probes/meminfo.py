"""Total RAM, to put the backlog's worst-case memory in proportion."""

from __future__ import annotations

from auditop.probes._files import read_text


def mem_total(path: str = "/proc/meminfo") -> int | None:
    """MemTotal in bytes, or None if the file or the line is missing."""
    text = read_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name != "MemTotal":
            continue
        parts = rest.split()
        try:
            kib = int(parts[0])
        except (IndexError, ValueError):
            return None
        # The unit is always "kB" (KiB) in /proc/meminfo.
        return kib * 1024
    return None
