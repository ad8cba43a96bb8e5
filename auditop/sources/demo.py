"""The demo: every incident auditop exists to show, on a simulated machine, without root.

DemoSource is a Source (poll, set, close) over the simulated pipeline of
simulator.py (producers, backlog, kauditd, auditd's socket, auditd).
poll() returns at once, integrating the pipeline up to now. The clock, the
wall clock and the seed are injectable: a test steps time exactly and gets
the same samples every run.

auditop's own senders are simulated too: while the queue is over its limit
and backlog_wait_time is not 0, the kernel holds the sender of every request
for up to backlog_wait_time, after answering it (kernel-audit-reference.md
section 8). A poll then answers at once, as the live source's does, and its
Sample says how many of auditop's senders (at most SENDERS, as many as the
live client allows itself) the kernel holds and the longest for how long;
they go free when the budget is spent or the queue is back under its limit.

The demo controls (flood, burst, stop auditd, ...) are methods; DEMO_ACTIONS
(demo_actions.py) lists them for a UI with a key each, and perform(action_id)
runs one and says what it did. Nothing here touches the real kernel.

Every setting changed is logged as the kernel does (a CONFIG_CHANGE record,
in the simulated auditd's log once it reads): by "auditop" through set()
(the Monitor's change path, `+ - b u`), by DEMO_ACTOR (core/drift.py) for
the demo's own controls (`c`, `w`, the tour), so the screen names the demo
as the one who changed it.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Callable

from auditop.core.changes import SetAck
from auditop.core.drift import DEMO_ACTOR
from auditop.core.errors import AuditError, InvalidValue
from auditop.core.model import FAILURE_MODES, SETTABLE_FIELDS, Sample
from auditop.sources.simulator import (BIG_RMEM, BURST_SECONDS, HZ, ROTATE_SECONDS, SMALL_RMEM,
                                       U32, WAIT_MAX, Panic, Pipeline, _Producer,
                                       window_producers)

SENDERS = 6  # auditop's live client sends from at most this many processes at once
HELD_AFTER = 0.1  # a sender busy this long is held, as the live client (kernel/senders.py)

def _control(method: Callable[..., str]) -> Callable[..., str]:
    """A demo control: under the lock, after integrating up to now."""
    @functools.wraps(method)
    def run(self: DemoSource, *args, **kwargs) -> str:
        with self._lock:
            self._advance()
            return method(self, *args, **kwargs)
    return run


class DemoSource(Pipeline):
    """The simulated kernel, kauditd and auditd as a Source. Thread-safe:
    the sampler polls from its thread while a UI calls the controls."""

    def __init__(self, *, seed: int = 1, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, backlog_limit: int = 64,
                 backlog_wait_time: int = 0, rate_limit: int = 0, failure: int = 1,
                 rmem_default: int = SMALL_RMEM, rmem_max: int = SMALL_RMEM) -> None:
        self._lock = threading.RLock()
        self.closed = False
        self._senders: list[float] = []  # when each sender the kernel holds was sent
        super().__init__(seed=seed, clock=clock, wall_clock=wall_clock,
                         backlog_limit=backlog_limit, backlog_wait_time=backlog_wait_time,
                         rate_limit=rate_limit, failure=failure, rmem_default=rmem_default,
                         rmem_max=rmem_max)

    # -- the Source protocol ----------------------------------------------------------

    def poll(self) -> Sample:
        with self._lock:
            now = self._advance()
            status, system = self._frozen or (self._status(), self._system(now))
            held, longest = self._hold_sender(now)
            causes, suppressed = self._log.drain()
            return Sample(time=now + self._offset, mono=now, status=status, system=system,
                          poll_seconds=0.0002, held_senders=held, held_for=longest,
                          loss_causes=causes, loss_suppressed=suppressed)

    def producers(self):
        """Who made the records since the last call (issue 16), as the live
        source's listener would count them: History asks as a window closes."""
        with self._lock:
            now = self._advance()
            made, self._made = self._made, {}
            seconds, self._made_since = max(now - self._made_since, 1e-9), now
        return window_producers(made, seconds)

    def _hold_sender(self, now: float) -> tuple[int, float]:
        """This poll's sender, held after its answer while the queue is over
        the limit: (senders held now, the longest hold so far in seconds)."""
        budget = self._wait / HZ
        if self._panic is not None or not self._over_limit() or not budget:
            self._senders = []  # woken: the queue drained (or nobody is held)
            return 0, 0.0
        self._senders = [sent for sent in self._senders if now - sent < budget]
        if len(self._senders) < SENDERS:
            self._senders.append(now)
        held = [sent for sent in self._senders if now - sent >= HELD_AFTER]
        return len(held), (now - held[0]) if held else 0.0

    def set(self, field: str, value: int) -> SetAck:
        with self._lock:
            self._advance()
            if self._panic is not None:
                raise AuditError(f"the simulated machine has panicked ({self._panic.reason}): "
                                 "reset the demo")
            if field not in SETTABLE_FIELDS:
                raise AuditError(f"auditop does not set {field}")
            top = WAIT_MAX if field == "backlog_wait_time" else U32 - 1
            if not 0 <= value <= top:
                raise InvalidValue(f"{field} = {value}")
            self._change(field, value, "auditop")
            # The kernel answers a SET, then holds its sender while the queue
            # is over the (new) limit; the demo never makes the caller wait.
            return SetAck(field=field, value=value, acked=True, held=self._over_limit())

    _SETTINGS = {"backlog_limit": "_limit", "rate_limit": "_rate_limit",
                 "backlog_wait_time": "_wait", "failure": "_failure"}

    def _change(self, field: str, value: int, by: str) -> None:
        """Set a kernel setting; the kernel logs who did (CONFIG_CHANGE)."""
        attr = self._SETTINGS[field]
        old = getattr(self, attr)
        setattr(self, attr, value)
        self._config_change(field, old, value, by, login=by != DEMO_ACTOR)

    def close(self) -> None:
        self.closed = True

    # -- what a UI shows beside the sample --------------------------------------------

    @property
    def held_for(self) -> float:
        """Seconds the kernel would hold a request sender now: backlog_wait_time
        while the queue is over its limit (kernel 5.17+), else 0."""
        with self._lock:
            return self._wait / HZ if self._over_limit() else 0.0

    @property
    def panicked(self) -> Panic | None:
        with self._lock:
            return self._panic

    # -- the demo controls: each runs at the simulated present and says what it did ----

    @_control
    def flood(self, on: bool = True, producers: int = 2) -> str:
        self._flooding, self._flood_n = on, max(1, producers)
        floods = [p for p in self._producers if p.kind == "flood"]
        floods += [_Producer("flood") for _ in range(self._flood_n - len(floods))]
        self._producers = [p for p in self._producers if p.kind != "flood"] + floods
        for index, producer in enumerate(floods):  # a held one finishes its record first
            producer.active = on and index < self._flood_n
        return (f"flood on: {self._flood_n} processes open a file in a loop (tar, a backup "
                "job under -k backup_watch)" if on else "flood off")

    @_control
    def burst(self) -> str:
        self._burst_until = self._t + BURST_SECONDS
        return "a 150 ms flood"

    @_control
    def bursts(self, on: bool = True) -> str:
        self._bursts_from = self._t if on else None
        return f"a 150 ms flood every second: {'on' if on else 'off'}"

    @_control
    def stop_auditd(self) -> str:
        self._stopped = self._alive
        return "auditd stopped (SIGSTOP)" if self._alive else "auditd is not running"

    @_control
    def resume_auditd(self) -> str:
        self._stopped = False
        return "auditd resumed (SIGCONT)" if self._alive else "auditd is not running"

    @_control
    def kill_auditd(self) -> str:
        """The process and its socket go; the kernel keeps the pid until it
        next fails to deliver a record."""
        self._alive = self._stopped = False
        self._socket, self._congested = 0, False
        return "auditd killed (SIGKILL)"

    @_control
    def restart_auditd(self) -> str:
        self._start_auditd(self._t)
        return f"auditd restarted: pid {self._auditd_pid}, socket buffer {self._rcvbuf} bytes"

    @_control
    def rotate_logs(self) -> str:
        self._rotate_until = self._t + ROTATE_SECONDS
        return f"auditd rotates its logs: slower for {ROTATE_SECONDS:.0f} s"

    @_control
    def disk_stall(self, on: bool = True) -> str:
        self._disk_stall = on
        return "auditd's disk " + ("stalls" if on else "recovers")

    @_control
    def set_rmem_default(self, value: int) -> str:
        """The sysctl changes at once; a running auditd keeps its socket's buffer."""
        self._rmem_default = value
        kept = self._alive and self._rcvbuf != value
        return f"net.core.rmem_default = {value}" + (
            f"; auditd's socket keeps {self._rcvbuf} until auditd restarts" if kept else "")

    @_control
    def set_failure(self, mode: int) -> str:
        if mode not in FAILURE_MODES:
            raise ValueError(f"failure mode is 0, 1 or 2, not {mode}")
        self._change("failure", mode, DEMO_ACTOR)
        return f"failure = {mode} ({FAILURE_MODES[mode]})"

    @_control
    def set_wait_time(self, jiffies: int) -> str:
        """backlog_wait_time changed by the demo (as by auditctl --backlog_wait_time)."""
        if self._panic is not None:
            return "the simulated machine has panicked: reset the demo"
        if not 0 <= jiffies <= WAIT_MAX:
            raise ValueError(f"backlog_wait_time is 0 to {WAIT_MAX}, not {jiffies}")
        old = self._wait
        self._change("backlog_wait_time", jiffies, DEMO_ACTOR)
        return f"backlog_wait_time {old} -> {jiffies}"

    def reset(self) -> str:
        """Reboot: the initial settings, empty queues, a fresh auditd."""
        with self._lock:
            self._boot(self._clock())
            return "the simulated machine rebooted"

    def perform(self, action_id: str) -> str:
        """Run one of DEMO_ACTIONS (demo_actions.py); returns a line saying what changed."""
        with self._lock:
            actions: dict[str, Callable[[], str]] = {
                "demo.flood": lambda: self.flood(not self._flooding, self._flood_n),
                "demo.burst": self.burst,
                "demo.bursts": lambda: self.bursts(self._bursts_from is None),
                "demo.stall": self.resume_auditd if self._stopped else self.stop_auditd,
                "demo.disk": lambda: self.disk_stall(not self._disk_stall),
                "demo.rotate": self.rotate_logs,
                "demo.kill": self.kill_auditd,
                "demo.restart": self.restart_auditd,
                "demo.rmem": lambda: self.set_rmem_default(
                    SMALL_RMEM if self._rmem_default >= BIG_RMEM else BIG_RMEM),
                "demo.wait": self._toggle_wait,
                "demo.failure": lambda: self.set_failure({1: 2, 2: 0, 0: 1}[self._failure]),
                "demo.reset": self.reset,
            }
            if action_id not in actions:
                raise KeyError(f"no demo action {action_id!r}")
            return actions[action_id]()

    def _toggle_wait(self) -> str:
        return self.set_wait_time(0 if self._wait else 500)
