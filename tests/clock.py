"""The fake monotonic clock the unit tests hand to what takes a clock
(the Monitor, the Sampler, the senders' pool, the demo, replay): time moves
only when a test moves `now`."""

from __future__ import annotations

from auditop.sources.scripted import EPOCH


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        """The wall clock that goes with it (the scripted kernel's epoch)."""
        return EPOCH + self.now
