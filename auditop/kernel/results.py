"""The outcome of a change, shared by every source (no pyroute2 here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SetResult:
    field: str
    old: int | None
    requested: int
    new: int | None  # read back from the kernel after the change
