"""How much kernel memory a full backlog can hold.

Each queued record is one sk_buff. The kernel allocates it with
nlmsg_new(AUDIT_BUFSIZ = 1024), which with the netlink header lands in a
2 KiB kmalloc bucket, plus ~0.6 KiB of struct sk_buff and skb_shared_info:
about 2.6 KiB for a typical record. Records grow on demand; one near the
8560-byte text cap takes a 16 KiB buffer. These are estimates from the
allocation sizes, not measurements, and count one queue only: the retry and
hold queues and every reader's socket buffer can hold copies too.
"""

from __future__ import annotations

TYPICAL_RECORD_BYTES = 2048 + 640
LARGEST_RECORD_BYTES = 16384


def backlog_memory(limit: int | None) -> tuple[int, int] | None:
    """(typical, worst case) bytes for a full main queue; None when unknown
    or unlimited (limit 0)."""
    if not limit:
        return None
    return limit * TYPICAL_RECORD_BYTES, limit * LARGEST_RECORD_BYTES


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def describe_backlog_memory(limit: int | None) -> str:
    estimate = backlog_memory(limit)
    if estimate is None:
        return "unbounded (backlog_limit 0 = unlimited)" if limit == 0 else "unknown"
    typical, worst = estimate
    return (f"~{format_bytes(typical)} when full with typical records, up to "
            f"{format_bytes(worst)} with the largest")
