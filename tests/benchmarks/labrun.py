"""The lab as the benchmark's lab parts run it (bursts, producers): under
the kernel lock, its children reaped after, and every reason it cannot run
said as one line for the table."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Callable, Iterator

from tests.benchmarks.lock import KernelLock
from tests.benchmarks.procs import children_of, reap_orphans


class LabUnavailable(Exception):
    """Why the part cannot run here: its rows say so."""


class LabFailed(Exception):
    """The lab could not restore the machine: loud, never a table row."""


@contextlib.contextmanager
def running_lab(make_lab: Callable, lock: KernelLock,
                lock_wait: float) -> Iterator[tuple[object, float]]:
    """(the lab started, seconds spent waiting for the kernel lock); closed,
    the lock released and the children left behind reaped afterwards.
    LabUnavailable when it cannot start; LabFailed when it cannot undo itself."""
    from tests.scenarios.lab import LabRefused, missing_capability

    reason = missing_capability()
    if reason:
        raise LabUnavailable(reason)
    asked = time.monotonic()
    if not lock.acquire(lock_wait):
        raise LabUnavailable(f"another run held the kernel lock for {lock_wait:g} s")
    waited = time.monotonic() - asked
    known = set(children_of(os.getpid()))
    try:
        try:
            lab = make_lab()
            lab.__enter__()
        except LabRefused as exc:
            raise LabUnavailable(f"the lab refuses to run: {exc}") from None
        except RuntimeError as exc:  # auditctl or auditd failed; the lab has undone itself
            raise LabUnavailable(
                f"the lab could not start: {str(exc).splitlines()[0][:160]}") from None
        try:
            yield lab, waited
        finally:
            try:
                lab.close()
            except AssertionError as exc:
                raise LabFailed(str(exc)) from None
    finally:
        lock.release()
        reap_orphans(known)  # a recorder's senders, re-parented to us
