"""How much kernel memory a full backlog can hold.

Each queued record is one sk_buff: a data buffer from kmalloc plus the
struct sk_buff itself (from the skbuff_head_cache slab: 256-byte objects on
x86_64, as /proc/slabinfo shows). The kernel makes it with nlmsg_new(AUDIT_BUFSIZ = 1024), and
__alloc_skb adds skb_shared_info (320 bytes) to the size *before* it picks
the kmalloc bucket, so the bucket already holds it: 1024 + the netlink
header + skb_shared_info lands in the 2 KiB bucket, and a typical record
costs 2048 + 256 = 2304 bytes, about 2.3 KiB. Records grow on demand; one
near the 8560-byte text cap (AUDIT_MESSAGE_TEXT_MAX) needs the 16 KiB
bucket: 16384 + 256 bytes. The "~9000 bytes per entry" seen in blogs is
libaudit's userspace MAX_AUDIT_MESSAGE_LENGTH (8970), an upper bound, not a
kernel allocation.

Source: torvalds/linux net/core/skbuff.c (__alloc_skb, kmalloc_reserve),
include/linux/skbuff.h (struct skb_shared_info), kernel/audit.c
(audit_buffer_alloc), as summarised in section 8 of the project's kernel
audit reference. Estimates from the allocation sizes, not measurements.

backlog_limit caps three queues, not one (kernel/audit.c): the main queue
(`backlog`), the retry queue of records auditd's socket refused (5.17+), and
the hold queue for when auditd is gone, used only on a kernel booted with
audit=1 (without it such records are printed to the kernel log and freed).
So a full pipeline can hold two or three times the main queue's figure.
"""

from __future__ import annotations

from auditop.core.text import UNKNOWN, bytes_text

SK_BUFF_BYTES = 256  # struct sk_buff (232 bytes) in its 256-byte slab object
TYPICAL_RECORD_BYTES = 2048 + SK_BUFF_BYTES  # 2 KiB bucket, skb_shared_info inside
LARGEST_RECORD_BYTES = 16384 + SK_BUFF_BYTES


def backlog_memory(limit: int | None) -> tuple[int, int] | None:
    """(typical, worst case) bytes for a full main queue; None when unknown
    or unlimited (limit 0)."""
    if not limit:
        return None
    return limit * TYPICAL_RECORD_BYTES, limit * LARGEST_RECORD_BYTES


def queues_capped(audit_boot_param: str | None) -> int:
    """How many of the kernel's queues backlog_limit caps that can fill:
    main and retry, plus hold when booted with audit=1."""
    return 3 if audit_boot_param in ("1", "on") else 2


def describe_backlog_memory(limit: int | None, queues: int | None = None) -> str:
    """The main queue's figure; with `queues` (queues_capped), what all the
    queues backlog_limit caps can hold together."""
    estimate = backlog_memory(limit)
    if estimate is None:
        return "unbounded (backlog_limit 0 = unlimited)" if limit == 0 else UNKNOWN
    typical, worst = estimate
    text = (f"~{bytes_text(typical)} when full with typical records "
            f"({TYPICAL_RECORD_BYTES} bytes each), up to {bytes_text(worst)} "
            "with the largest")
    if queues is None:
        return text + "; the retry and hold queues can each hold as many"
    which = "retry and hold queues" if queues == 3 else "retry queue"
    return (text + f"; with the {which} full too, ~{bytes_text(queues * typical)} "
            f"(up to {bytes_text(queues * worst)})")
