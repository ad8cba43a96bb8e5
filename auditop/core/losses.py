"""Why records were lost: the kernel's reasons, as ids, and how they add up.

The kernel says why it lost audit records only in its log (kernel/audit.c,
`audit_log_lost(reason)`, `audit_panic`), and every such line goes through
printk_ratelimit(): 10 messages per 5 s for the whole kernel by default, the
rest counted in `<function>: N callbacks suppressed`. So a count here is of
*log messages* naming a cause, never of records lost (that is `lost`), and a
window of a long stall may hold no message at all while records go on being
lost: the cause named a few seconds before still holds. probes/kmsg.py reads
the messages; this module is what the rest of auditop needs to know of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

# Cause ids and what the kernel says for each.
CAUSES: Mapping[str, str] = MappingProxyType({
    "backlog-limit": "backlog limit exceeded",
    "rate-limit": "rate limit exceeded",
    "hold-queue": "kauditd hold queue overflow",
    "retry-queue": "kauditd retry queue overflow",
    "printk-limit": "printk limit exceeded",
    "auditd-gone": "auditd disappeared",
    "out-of-memory": "out of memory",
})

# Causes that mean auditd is not taking records: the queues behind its
# socket overflowed, or records it could not take were printed to the kernel
# log past printk's rate limit. No backlog_limit helps; auditd must read.
NOT_READING = frozenset({"hold-queue", "retry-queue", "printk-limit", "auditd-gone"})


def dominant_cause(causes: Causes) -> str | None:
    """The cause named most (causes are sorted so), or None."""
    return causes[0][0] if causes else None

# printk_ratelimit()'s interval is 5 s (kernel.printk_ratelimit): a cause
# named within twice that still explains a window with no message of its own.
RECENT_SECONDS = 10.0

Causes = tuple[tuple[str, int], ...]  # (cause id, messages), most messages first


def cause_label(cause: str) -> str:
    """A person's words for a cause id ("backlog-limit" -> "backlog limit
    exceeded"); an id this auditop does not know is shown as it is."""
    return CAUSES.get(cause, cause)


def add_causes(parts: Iterable[Iterable[tuple[str, int]]]) -> Causes:
    """Sum (cause, messages) pairs; most messages first, then by id."""
    totals: dict[str, int] = {}
    for part in parts:
        for cause, count in part:
            totals[cause] = totals.get(cause, 0) + count
    return tuple(sorted(((c, n) for c, n in totals.items() if n > 0),
                        key=lambda item: (-item[1], item[0])))


def as_causes(counts: Mapping[str, int]) -> Causes:
    return add_causes([counts.items()])


def causes_text(causes: Causes) -> str:
    """"backlog limit exceeded" or "backlog limit exceeded, rate limit
    exceeded": the causes by their kernel words, most named first."""
    return ", ".join(cause_label(cause) for cause, _ in causes)
