"""A deterministic source for tests, screenshots and demos.

ScriptedSource plays a script of Samples (a list, or a function step ->
Sample), records every set() in `.writes`, can be told to fail set() with a
given AuditError, and holds senders the two ways the real kernel does while
the backlog is over its limit: `block()` / `unblock()` make polls wait with
no answer (a kernel that answers nothing), `throttle(seconds)` makes polls
answer but report held senders, and every set() while blocked or throttled
is applied and reports a held sender (the kernel processes a request before
it puts the sender to sleep).

The scenario builders below produce realistic, seeded, fully deterministic
Samples (time = EPOCH + step * period) for the states auditop must show:
healthy, overflow with lost events, failure = 2, auditd stopped or not
running, audit disabled, audit locked. No pyroute2 here: this module imports
only pure modules.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from typing import Callable, Sequence

from auditop.core.model import (AuditdConfig, AuditdLogReading, AuditdProcess, AuditdState,
                                AuditStatus, ConfigChangeRecord, NetlinkSocketRow, Sample,
                                SystemInfo)
from auditop.core.changes import SetAck
from auditop.core.errors import AuditError

Script = Callable[[int], Sample]

EPOCH = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: the wall clock of step 0
PERIOD = 0.1  # seconds between scripted steps (10 Hz, the default sampling rate)
AUDITD_PID = 812
SOCKET_INODE = 40_000
SMALL_RMEM = 212_992  # a fresh kernel's net.core.rmem_default
HZ = 250  # Debian's CONFIG_HZ: backlog_wait_time 15000 is 60 s
WAITING_EVERY = 0.25  # a blocked poll calls its `waiting` this often, as the live one does


class ScriptedSource:
    """A Source that plays `script` step by step.

    `restamp` (default) gives each polled sample the real wall and monotonic
    clocks, so it mixes with the sampler's own stall samples; turn it off to
    keep the script's times. set() changes the field in every later sample
    (`readback` overrides the value later samples show, to simulate a kernel
    that clamps a value).
    """

    def __init__(self, script: Sequence[Sample] | Script, *, restamp: bool = True,
                 set_error: AuditError | None = None,
                 readback: dict[str, int] | None = None) -> None:
        if not callable(script):
            samples = list(script)
            if not samples:
                raise ValueError("a script needs at least one sample")
            script = _from_list(samples)
        self._script = script
        self._restamp = restamp
        self.set_error = set_error  # raised by every set() while not None
        self.readback = dict(readback or {})
        self.writes: list[tuple[str, int]] = []  # every set() asked for, in order
        self.overrides: dict[str, int] = {}  # fields changed by set(), applied to later polls
        self.polls = 0
        self.closed = False
        self._awake = threading.Event()
        self._awake.set()
        self.held_for = 0.0  # > 0: polls answer, and report a sender held this long
        self._lock = threading.Lock()

    # -- simulating the kernel holding the poller ------------------------------

    def block(self) -> None:
        """Make every poll from now on wait until unblock() (or close())."""
        self._awake.clear()

    def unblock(self) -> None:
        self._awake.set()

    @property
    def blocked(self) -> bool:
        return not self._awake.is_set()

    def throttle(self, seconds: float) -> None:
        """Polls answer, and say the kernel holds a sender `seconds` (0: stop)."""
        self.held_for = seconds

    # -- the Source protocol -----------------------------------------------------

    def poll(self, waiting: Callable[[], None] | None = None) -> Sample:
        while not self._awake.wait(WAITING_EVERY):  # blocked: as a silent kernel
            if waiting is not None:
                waiting()  # the Monitor keeps time, as the live source lets it
        with self._lock:
            step, self.polls = self.polls, self.polls + 1
            sample = self._script(step)
            if sample.status is not None and self.overrides:
                sample = replace(sample, status=replace(sample.status, **self.overrides))
        if self._restamp:
            sample = replace(sample, time=time.time(), mono=time.monotonic(), poll_seconds=0.0)
        if self.held_for:
            sample = replace(sample, held_senders=1, held_for=self.held_for)
        return sample

    def set(self, field: str, value: int) -> SetAck:
        with self._lock:
            self.writes.append((field, value))
            if self.set_error is not None:
                raise self.set_error
            self.overrides[field] = self.readback.get(field, value)
        return SetAck(field, value, acked=True, held=self.blocked or self.held_for > 0)

    def close(self) -> None:
        self.closed = True
        self._awake.set()  # a blocked poll returns, as a closed socket would make it


def _from_list(samples: list[Sample]) -> Script:
    """Play the list, then repeat its last sample with the clock moving on."""
    def step(n: int) -> Sample:
        if n < len(samples):
            return samples[n]
        last = samples[-1]
        extra = (n - len(samples) + 1) * PERIOD
        return replace(last, time=last.time + extra, mono=last.mono + extra)
    return step


# -- scenarios --------------------------------------------------------------------

HEALTHY_STATUS = AuditStatus(
    enabled=1, failure=1, pid=AUDITD_PID, rate_limit=0, backlog_limit=8192, lost=0,
    backlog=0, feature_bitmap=0x7F, backlog_wait_time=60000, backlog_wait_time_actual=0)
HEALTHY_CONFIG = AuditdConfig(
    path="/etc/audit/auditd.conf", flush="incremental_async", freq=50, log_format="raw",
    q_depth=2000, overflow_action="syslog", priority_boost=4, active_plugins=("af_unix",))
AUDITD = AuditdProcess(pid=AUDITD_PID, name="auditd", state="S", start_time=EPOCH - 3600)
HEALTHY_SYSTEM = SystemInfo(
    rmem_default=8 * 1024 * 1024, rmem_max=8 * 1024 * 1024, auditd=AUDITD,
    auditd_socket=NetlinkSocketRow(portid=AUDITD_PID, groups=0, rmem=0, drops=0,
                                   inode=SOCKET_INODE, rcvbuf=8 * 1024 * 1024),
    config=HEALTHY_CONFIG, mem_total=8 * 1024**3, hz=HZ)
# What the kernel logs once per printk_ratelimit interval (5 s) in a flood:
# "audit_backlog=65 > audit_backlog_limit=64" and "backlog limit exceeded",
# the rest suppressed.
BACKLOG_MESSAGES = (("backlog-limit", 2),)


def _sample(step: int, status: AuditStatus | None, system: SystemInfo,
            error: str | None = None, loss_causes: tuple[tuple[str, int], ...] = (),
            loss_suppressed: int = 0) -> Sample:
    mono = step * PERIOD
    return Sample(time=EPOCH + mono, mono=mono, status=status, system=system, error=error,
                  poll_seconds=0.0002, loss_causes=loss_causes,
                  loss_suppressed=loss_suppressed)


def _socket(rmem: int, drops: int, rcvbuf: int = 8 * 1024 * 1024) -> NetlinkSocketRow:
    return NetlinkSocketRow(portid=AUDITD_PID, groups=0, rmem=rmem, drops=drops,
                            inode=SOCKET_INODE, rcvbuf=rcvbuf)


def _noise(seed: int, count: int, low: int, high: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(low, high) for _ in range(count)]


def healthy(seed: int = 1) -> Script:
    """auditd keeps up: a backlog of a few records, nothing lost."""
    noise = _noise(seed, 997, 0, 40)

    def step(n: int) -> Sample:
        backlog = noise[n % len(noise)]
        status = replace(HEALTHY_STATUS, backlog=backlog)
        system = replace(HEALTHY_SYSTEM, auditd_socket=_socket(backlog * 300, 0))
        return _sample(n, status, system)
    return step


def overflow(seed: int = 2, limit: int = 1024) -> Script:
    """A 150 ms flood once a second fills a small backlog and loses records;
    auditd's socket (rmem_default 208 KiB) is overrun and processes wait."""
    noise = _noise(seed, 997, 0, 30)
    costs = [0]  # lost after k floods: each flood loses 1500-1722 records
    for k in range(4000):
        costs.append(costs[-1] + 1500 + 37 * (k % 7))
    base = replace(HEALTHY_STATUS, backlog_limit=limit, backlog_wait_time=0)
    system = replace(HEALTHY_SYSTEM, rmem_default=SMALL_RMEM, rmem_max=SMALL_RMEM * 2,
                     config=replace(HEALTHY_CONFIG, flush="sync"))

    def step(n: int) -> Sample:
        second, tick = divmod(n, 10)
        flood = tick in (3, 4)  # 150 ms of the second (two 100 ms steps see it)
        # From the fifth second on the floods start; each costs ~1800 records.
        active = second >= 5
        bursts = max(0, second - 5) + (1 if active and tick >= 4 else 0)
        lost = costs[min(bursts, len(costs) - 1)]
        drops = bursts * 64
        waited = bursts * 150
        backlog = limit + 1 if active and flood else noise[n % len(noise)] + (
            limit // 3 if active and tick == 5 else 0)
        status = replace(base, backlog=backlog, lost=lost, backlog_wait_time_actual=waited)
        sysnow = replace(system, auditd_socket=_socket(
            SMALL_RMEM - 512 if active and flood else backlog * 200, drops, SMALL_RMEM))
        logged = active and tick == 4 and second % 5 == 0  # printk_ratelimit: 5 s
        return _sample(n, status, sysnow, loss_causes=BACKLOG_MESSAGES if logged else (),
                       loss_suppressed=8000 if logged and second > 5 else 0)
    return step


def panic_mode(seed: int = 3, limit: int = 8192) -> Script:
    """failure = 2 (panic on the first lost record) while the backlog climbs
    steadily towards its limit: time to panic."""
    noise = _noise(seed, 997, 0, 60)

    def step(n: int) -> Sample:
        backlog = min(limit - 1, 20 * n + noise[n % len(noise)])  # +200 records a second
        status = replace(HEALTHY_STATUS, failure=2, backlog_limit=limit, backlog=backlog)
        system = replace(HEALTHY_SYSTEM, auditd_socket=_socket(SMALL_RMEM // 2, 0))
        return _sample(n, status, system)
    return step


def auditd_stopped(seed: int = 4, limit: int = 64, wait_time: int = 0) -> Script:
    """auditd got SIGSTOP: the backlog sits at limit + 1 and lost climbs.
    With a `wait_time` (jiffies) the kernel can hold senders (throttle())."""
    stopped = replace(AUDITD, state="T")

    def step(n: int) -> Sample:
        status = replace(HEALTHY_STATUS, backlog_limit=limit, backlog=limit + 1,
                         lost=n * 900, backlog_wait_time=wait_time)
        system = replace(HEALTHY_SYSTEM, auditd=stopped, rmem_default=SMALL_RMEM,
                         auditd_socket=_socket(SMALL_RMEM - 256, n * 40, SMALL_RMEM))
        logged = n % 50 == 1  # printk_ratelimit: a few messages every 5 s
        return _sample(n, status, system, loss_causes=BACKLOG_MESSAGES if logged else (),
                       loss_suppressed=4400 if logged and n > 1 else 0)
    return step


def throttled(seed: int = 8, limit: int = 64) -> Script:
    """auditd stopped with backlog_wait_time 500 (2 s at HZ 250): the kernel
    answers auditop at once but then holds its sender, as every sender."""
    base = auditd_stopped(seed, limit, wait_time=500)

    def step(n: int) -> Sample:
        sample = base(n)
        return replace(sample, status=replace(sample.status,
                                              backlog_wait_time_actual=(n // 20) * 500),
                       held_senders=1 + n % 3, held_for=0.2 + (n % 20) * 0.1)
    return step


def auditd_not_running(seed: int = 5) -> Script:
    """Auditing is on but no auditd is registered (pid 0)."""
    def step(n: int) -> Sample:
        status = replace(HEALTHY_STATUS, pid=0, backlog=min(n, 64), backlog_limit=64)
        system = replace(HEALTHY_SYSTEM, auditd=None, auditd_socket=None, config=None,
                         rmem_default=SMALL_RMEM)
        return _sample(n, status, system)
    return step


def disabled(seed: int = 6) -> Script:
    """Kernel auditing is off (enabled 0), as on a fresh machine."""
    def step(n: int) -> Sample:
        status = replace(HEALTHY_STATUS, enabled=0, pid=0, backlog_limit=64,
                         backlog_wait_time=15000)
        system = replace(HEALTHY_SYSTEM, auditd=None, auditd_socket=None, config=None,
                         rmem_default=SMALL_RMEM)
        return _sample(n, status, system)
    return step


def locked(seed: int = 7) -> Script:
    """enabled = 2: the configuration cannot change until reboot."""
    base = healthy(seed)

    def step(n: int) -> Sample:
        sample = base(n)
        return replace(sample, status=replace(sample.status, enabled=2))
    return step


def drift(seed: int = 9) -> Script:
    """Healthy, until someone runs `auditctl -b 100` at 40 s; auditd's log
    names them half a second later. auditd 4.x writes a state report every
    10 s (report_interval): its plugin queue is filling."""
    base = healthy(seed)
    config = replace(HEALTHY_CONFIG, report_interval=10, log_file="/var/log/audit/audit.log")
    record = ConfigChangeRecord(
        time=EPOCH + 40.03, serial=61766, field="backlog_limit", new=100, old=8192, res=1,
        auid=1000, ses=3, pid=14356, ppid=14177, uid=0, comm="auditctl",
        exe="/usr/sbin/auditctl", command="auditctl -b 100")

    def step(n: int) -> Sample:
        sample = base(n)
        written = (n // 100) * 10.0  # a report every 10 s
        state = AuditdState(
            path="/run/audit/auditd.state", mtime=EPOCH + written, version="4.0.5",
            writing_to_logs=True, logging_suspended=False, plugins_active=1,
            plugin_queue_depth=min(200 + 25 * int(written), 1950),
            plugin_queue_max_depth=min(300 + 30 * int(written), 1990),
            plugin_queue_size=2000, plugin_queue_overflow=False)
        log = AuditdLogReading("/var/log/audit/audit.log", None,
                               (record,) if n == 405 else ())
        status = sample.status if n < 400 else replace(sample.status, backlog_limit=100)
        system = replace(sample.system, config=config, auditd_state=state, auditd_log=log)
        return replace(sample, status=status, system=system)
    return step


SCENARIOS: dict[str, Callable[..., Script]] = {
    "healthy": healthy,
    "overflow": overflow,
    "panic": panic_mode,
    "auditd-stopped": auditd_stopped,
    "throttled": throttled,
    "auditd-not-running": auditd_not_running,
    "disabled": disabled,
    "locked": locked,
    "drift": drift,
}


def samples(scenario: str | Script, seconds: float, period: float = PERIOD) -> list[Sample]:
    """The first `seconds` of a scenario as a list (for preloading a History)."""
    script = SCENARIOS[scenario]() if isinstance(scenario, str) else scenario
    count = round(seconds / period)
    return [script(n) for n in range(count)]


def silence(after: Sample, seconds: float, error: str | None = None) -> Sample:
    """The silence sample the Monitor records when the kernel has not
    answered for `seconds` after `after` (the last answered sample): no
    status, no system readings."""
    return replace(after, time=after.time + seconds, mono=after.mono + seconds, status=None,
                   system=None, error=error or f"kernel not answering for {seconds:.1f} s",
                   poll_seconds=seconds)
