"""The demo's keys and its tour, apart from the simulator: the TUI builds its
bindings from them at import, and the live TUI should not import the
simulator to start (demo.py runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditop.sources.demo import DemoSource


@dataclass(frozen=True, slots=True)
class DemoAction:
    id: str
    key: str  # a suggestion; none of auditop's own keys
    description: str


DEMO_ACTIONS: tuple[DemoAction, ...] = (
    DemoAction("demo.flood", "f", "flood on/off: two processes open a file in a loop (a "
               "backup job, tar under -k backup_watch)"),
    DemoAction("demo.burst", "o", "one 150 ms flood"),
    DemoAction("demo.bursts", "e", "a 150 ms flood every second, on/off (a login storm "
               "through sshd)"),
    DemoAction("demo.stall", "s", "stop / resume auditd (SIGSTOP / SIGCONT)"),
    DemoAction("demo.disk", "d", "auditd's disk stalls / recovers"),
    DemoAction("demo.rotate", "l", "auditd rotates its logs (a few seconds slower)"),
    DemoAction("demo.kill", "k", "kill auditd (SIGKILL)"),
    DemoAction("demo.restart", "a", "restart auditd (its new socket takes rmem_default)"),
    DemoAction("demo.rmem", "m", "net.core.rmem_default 212992 <-> 8 MiB"),
    DemoAction("demo.wait", "w", "backlog_wait_time 0 <-> 500 jiffies (2 s)"),
    DemoAction("demo.failure", "c", "failure mode 1 -> 2 -> 0 -> 1"),
    DemoAction("demo.reset", "r", "reset: reboot the simulated machine"),
)


@dataclass(frozen=True, slots=True)
class TourStep:
    at: float  # seconds after the tour starts
    says: str  # what it shows, for a notice
    calls: tuple[tuple[str, tuple], ...]  # DemoSource methods and their arguments


# Each seed incident in turn, in under a minute (a teacher's `t`, `record --demo`).
TOUR: tuple[TourStep, ...] = (
    TourStep(2.0, "auditd stopped under a flood: the backlog sits at its limit, records are "
             "lost, auditd's socket is overrun (netlink drops); the culprit, on the who "
             "row: a backup job, tar under rule key backup_watch (W: all producers)",
             (("stop_auditd", ()), ("flood", (True,)))),
    TourStep(9.0, "auditd resumed, the flood over: the backlog drains, nothing more is lost",
             (("flood", (False,)), ("resume_auditd", ()))),
    TourStep(13.0, "a 150 ms flood every second: a 1 Hz reader sees an empty backlog, the "
             "peaks reach the limit; the who row names a login storm through sshd "
             "(rule key logins)", (("bursts", (True,)),)),
    TourStep(21.0, "backlog_wait_time 500 (2 s), auditd stopped, a flood: processes and "
             "auditop's own senders are held instead of records lost",
             (("bursts", (False,)), ("set_wait_time", (500,)),
              ("stop_auditd", ()), ("flood", (True, 12)))),
    TourStep(30.0, "back to normal: auditd resumed, backlog_wait_time 0",
             (("flood", (False,)), ("resume_auditd", ()), ("set_wait_time", (0,)))),
    # failure first, auditd still reading: its log names the demo as who set it
    TourStep(34.0, "failure = 2, as `auditctl -f 2` sets it: from now on the first lost "
             "record panics the machine", (("set_failure", (2,)),)),
    TourStep(35.0, "a flood with auditd stopped: the first lost record panics the machine",
             (("stop_auditd", ()), ("flood", (True,)))),
)


def take_tour(source: DemoSource, since: float, until: float) -> list[str]:
    """Run the tour's steps due in [since, until) seconds after its start;
    what each showed."""
    said = []
    for step in TOUR:
        if since <= step.at < until:
            for name, args in step.calls:
                getattr(source, name)(*args)
            said.append(step.says)
    return said
