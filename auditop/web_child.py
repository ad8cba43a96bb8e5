"""The process `auditop web` starts for each browser tab:
`python -m auditop.web_child SERVER_PID AUDITOP_ARGS...` runs
`auditop AUDITOP_ARGS...` in this process, under textual-serve's web
driver, and makes sure it cannot outlive what it serves:

- PR_SET_PDEATHSIG: the kernel kills it when the server dies, however the
  server dies (SIGKILL included);
- a watchdog thread waits for the server's end of its pipes to close (stdin
  hung up, stdout's reader gone) and ends the process, instead of leaving
  it drawing into a pipe nobody reads.

Light on purpose: no textual-serve, no aiohttp; Textual comes with the TUI.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
HANGUP_GRACE = 1.0  # seconds the app has to quit on its own once its pipes are closed


def die_with_parent(parent: int) -> None:
    """SIGKILL when the parent dies (the server: nothing of a session is
    worth keeping once nobody can see it). If the parent is already gone,
    leave now."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


def watch_pipes(grace: float = HANGUP_GRACE) -> threading.Thread:
    """A daemon thread that ends the process once the server's ends of
    stdin (POLLHUP) or stdout (POLLERR) are closed. poll() with no events
    asked reads nothing, so Textual's own reader of stdin is undisturbed."""
    def watch() -> None:
        poller = select.poll()
        for fd in (0, 1):
            poller.register(fd, 0)  # POLLHUP and POLLERR are always reported
        while not poller.poll():
            pass
        time.sleep(grace)  # the app may be quitting already: let it
        os._exit(0)

    thread = threading.Thread(target=watch, name="auditop-web-watchdog", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> int:
    if not argv or not argv[0].isdigit():
        print("auditop: web_child is started by `auditop web`, not by hand", file=sys.stderr)
        return 2
    die_with_parent(int(argv[0]))
    watch_pipes()
    from auditop.cli import main as auditop
    return auditop(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
