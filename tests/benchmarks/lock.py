"""The kernel lock the real-kernel tests share (tests/kernel/conftest.py):
one kernel user at a time. The benchmark takes it for the burst lab, or for
the whole run with --hold-lock, and otherwise watches whether another run
held it (a lab or kernel test loading or changing the kernel makes the
figures of that section tell of that load, not of a quiet machine)."""

from __future__ import annotations

import fcntl
import threading
import time

from tests.kernel.conftest import LOCK_PATH


class KernelLock:
    """Held at most once by this process (flock is per open file: a second
    flock from this process on another descriptor would wait for itself)."""

    def __init__(self, path: str = LOCK_PATH) -> None:
        self.path = path
        self._file = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` s; True when held (re-entrant)."""
        if self._file is not None:
            self._depth += 1
            return True
        handle = open(self.path, "w")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.close()
                    return False
                time.sleep(0.2)
                continue
            self._file, self._depth = handle, 1
            return True

    def release(self) -> None:
        if self._file is None:
            return
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def busy_elsewhere(self) -> bool:
        """Is another process holding it right now? (Never while we hold it.)"""
        if self._file is not None:
            return False
        with open(self.path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


class Watch:
    """While in the block, checks every `step` s whether another run holds
    the kernel lock; `.busy` is the fraction of checks that found it held."""

    def __init__(self, lock: KernelLock, step: float = 0.5) -> None:
        self._lock, self._step = lock, step
        self._stop = threading.Event()
        self._checks = self._busy = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self._checks += 1
            self._busy += self._lock.busy_elsewhere()
            if self._stop.wait(self._step):
                return

    @property
    def busy(self) -> float:
        return self._busy / self._checks if self._checks else 0.0

    def note(self) -> str | None:
        if not self.busy:
            return None
        return (f"another run held the kernel lock {100 * self.busy:.0f}% of the time "
                "(a lab or kernel test loading or changing the kernel): these figures "
                "include what that load made auditop do")

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
