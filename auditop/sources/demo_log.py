"""The demo's kernel log: which loss causes it would print, under the
kernel's printk_ratelimit() (10 messages per 5 s for the whole kernel; about
half of them go to the `audit_lost=...` counters line, so 5 name a reason),
the rest counted as suppressed. With failure 0 the kernel prints no reason
at all (audit_panic is silent), only the counters line."""

from __future__ import annotations

from auditop.core.losses import CAUSES

RATELIMIT_INTERVAL = 5.0  # seconds (kernel.printk_ratelimit)
REASON_BURST = 5  # of the 10 messages per interval (kernel.printk_ratelimit_burst)
_IDS = {label: cause for cause, label in CAUSES.items()}


class DemoKernelLog:
    def __init__(self) -> None:
        self._interval_start = float("-inf")
        self._printed = 0
        self._causes: dict[str, int] = {}
        self._suppressed = 0

    def lost(self, reason: str, count: int, when: float, failure: int) -> None:
        """`count` records lost for `reason` (the kernel's words) at `when`."""
        if count <= 0:
            return
        if when - self._interval_start >= RATELIMIT_INTERVAL:
            self._interval_start, self._printed = when, 0
        if failure == 0:
            return  # nothing is printed that names a reason
        printed = min(count, REASON_BURST - self._printed)
        self._printed += printed
        if printed:
            cause = _IDS.get(reason, reason)
            self._causes[cause] = self._causes.get(cause, 0) + printed
        self._suppressed += count - printed

    def drain(self) -> tuple[tuple[tuple[str, int], ...], int]:
        """(cause, messages) and the suppressed count since the last drain."""
        causes, suppressed = tuple(sorted(self._causes.items())), self._suppressed
        self._causes, self._suppressed = {}, 0
        return causes, suppressed
