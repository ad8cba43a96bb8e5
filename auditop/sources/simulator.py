"""The simulated audit pipeline behind the demo (DemoSource in demo.py).

    producers --door: backlog_limit, rate_limit, backlog_wait_time--> main queue (`backlog`)
    kauditd   --send, timeout HZ/10; on timeout Drops + 1, record to the retry queue--> socket
    auditd    --drains its socket (rmem bytes) at a rate: slower while rotating or stalled,
                not at all while stopped

Pipeline integrates that from its last call to the clock's now in steps of
at most 10 ms (what is older than 10 s in a long gap, in coarser steps), so
the result barely depends on how often it is asked. Figures (rates, 1 011
bytes of socket memory per record, the queue reaching 65 of 64, one drop per
100 ms send attempt) follow the real-kernel measurements in
docs/scenarios.md; the kernel's rules follow kernel-audit-reference.md
sections 3, 4 and 8. Not thread-safe by itself: DemoSource holds a lock
around every call. Nothing here touches the real kernel.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

from auditop.core.model import (AuditdConfig, AuditdLogReading, AuditdProcess, AuditStatus,
                                ConfigChangeRecord, NetlinkSocketRow, SystemInfo)
from auditop.core.producers import DIMENSIONS, WindowProducers
from auditop.sources.demo_log import DemoKernelLog

HZ = 250
MAX_STEP = 0.010  # seconds integrated at once
FINE_SPAN = 10.0  # the newest seconds of a gap between polls, in MAX_STEP steps
COARSE_STEPS = 500  # whatever is older than that, in at most this many steps
SEND_TIMEOUT = HZ // 10 / HZ  # kauditd's netlink send timeout (since 5.16), in seconds
RECORD_BYTES = 1_011  # socket memory per record: 5 056 bytes per 5-record event, measured
SMALL_RMEM = 212_992  # a fresh kernel's net.core.rmem_default
BIG_RMEM = 8 * 1024 * 1024
BASELINE_RATE = 5.0  # records/s on an idle machine with a few rules
PRODUCER_RATE = 200_000.0  # records/s of one process opening a file in a loop
CPU_RATE = 450_000.0  # records/s all flooding processes together can make
AUDITD_RATE = 30_000.0  # records/s a healthy auditd reads and writes
ROTATE_RATE, ROTATE_SECONDS = 2_000.0, 3.0  # while auditd rotates its logs
DISK_RATE, DISK_PERIOD = 150.0, 0.5  # a stalled disk: a batch every half second
BURST_SECONDS = 0.15
WAIT_MAX = 10 * 60 * HZ  # the kernel refuses a longer backlog_wait_time
U32 = 2**32
FIRST_PID = 812
FIRST_INODE = 40_000
MEM_TOTAL = 8 * 1024**3

CONFIG = AuditdConfig(
    path="/etc/audit/auditd.conf", flush="incremental_async", freq=50, log_format="ENRICHED",
    q_depth=2000, overflow_action="SYSLOG", priority_boost=4, active_plugins=())

AUDIT_LOG = "/var/log/audit/audit.log"  # the simulated auditd's log (its default)
AUID_UNSET = 4294967295

IDLE, RETRY, MAIN = "idle", "retry", "main"  # where kauditd is in its loop


@dataclass(frozen=True, slots=True)
class Panic:
    """failure = 2 met its first lost record: the simulated machine is down."""

    time: float  # wall clock
    mono: float
    reason: str  # as the kernel's panic message: "audit: backlog limit exceeded"


class _Panicked(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a simulated producer is, as the audit records it makes name it
    (issue 16): the rule key and rule, the process, its login user, and the
    records of one of its events by type."""

    what: str  # in words, for the tour
    key: str
    rule: str  # as `auditctl -l` prints it
    comm: str
    exe: str
    auid: str
    syscall: str
    event: tuple[tuple[str, int], ...]  # (record type, records) of one event


IDENTITIES: dict[str, Identity] = {
    # The tour's flood: a backup job reading a watched directory.
    "flood": Identity("a backup job under a watched directory", "backup_watch",
                      "-a always,exit -F arch=b64 -S openat -F dir=/srv/backup -F perm=r "
                      "-k backup_watch", "tar", "/usr/bin/tar", "0 (root)", "openat",
                      (("SYSCALL", 1), ("CWD", 1), ("PATH", 1), ("PROCTITLE", 1),
                       ("EOE", 1))),
    # Bursts: a login storm through sshd (PAM's USER_* records carry no key;
    # its write of lastlog does, STIG's `-k logins`).
    "burst": Identity("a login storm through sshd", "logins",
                      "-w /var/log/lastlog -p wa -k logins", "sshd", "/usr/sbin/sshd",
                      "unset", "openat",
                      (("USER_AUTH", 1), ("USER_ACCT", 1), ("CRED_ACQ", 1), ("USER_LOGIN", 1),
                       ("SYSCALL", 1), ("PATH", 2), ("PROCTITLE", 1), ("EOE", 1))),
    # The idle machine's few records: a package install writing under /etc.
    "baseline": Identity("a package install", "etc_changes",
                         "-a always,exit -F arch=b64 -S openat,rename,unlink -F dir=/etc "
                         "-F perm=wa -k etc_changes", "dpkg", "/usr/bin/dpkg",
                         "1000 (alice)", "rename",
                         (("SYSCALL", 1), ("CWD", 1), ("PATH", 2), ("PROCTITLE", 1),
                          ("EOE", 1))),
}
_NO_EVENT = ("USER_AUTH", "USER_ACCT", "CRED_ACQ", "USER_LOGIN")  # no syscall, no key


def window_producers(made: dict[str, int], seconds: float) -> WindowProducers:
    """The simulated listener's window: `made` records per producer kind,
    named by IDENTITIES, in the shape the real counter gives."""
    from auditop.core.producers import NONE, ranked

    records = sum(made.values())
    dims: dict[str, dict[str, float]] = {name: {} for name in DIMENSIONS}
    for kind, count in made.items():
        who = IDENTITIES[kind]
        per_event = sum(n for _, n in who.event)
        for mtype, n in who.event:
            share = count * n / per_event
            keyed = mtype not in _NO_EVENT
            for name, value in (("by_key", who.key), ("by_comm", who.comm),
                                ("by_exe", who.exe), ("by_auid", who.auid),
                                ("by_syscall", who.syscall), ("by_rule", who.rule)):
                bucket = dims[name]
                label = value if keyed else NONE
                bucket[label] = bucket.get(label, 0.0) + share
            dims["by_type"][mtype] = dims["by_type"].get(mtype, 0.0) + share
    lists = {name: ranked(counts, records, seconds) for name, counts in dims.items()}
    return WindowProducers(source="kernel", seconds=seconds, records=records, sampled=1.0,
                           **lists)


@dataclass(slots=True)
class _Producer:
    """A process that logs records; asleep in audit_log_start while held."""

    kind: str  # "baseline", "flood" or "burst"
    active: bool = True  # a flooding process that is still looping
    carry: float = 0.0  # fraction of a record not yet made
    pending: int = 0  # the record it holds while asleep at the door (0 or 1)
    held_since: float | None = None  # start of the current sleep
    budget: float = 0.0  # seconds of backlog_wait_time left for the pending record


class Pipeline:
    """The simulated kernel, kauditd and auditd: state and integration."""

    def __init__(self, *, seed: int, clock: Callable[[], float],
                 wall_clock: Callable[[], float], **settings: int) -> None:
        """`settings`: backlog_limit, backlog_wait_time, rate_limit, failure,
        rmem_default, rmem_max, as the machine boots with them."""
        self._clock = clock
        self._rng = random.Random(seed)
        self._initial = dict(settings)
        now = clock()
        self._offset = wall_clock() - now  # wall = mono + offset
        self._next_pid, self._next_inode = FIRST_PID, FIRST_INODE
        self._serial = 0  # of the simulated kernel's records (CONFIG_CHANGE)
        self._boot(now)

    # -- state ---------------------------------------------------------------------

    def _boot(self, now: float) -> None:
        s = self._initial
        self._t = now
        self._limit, self._wait = s["backlog_limit"], s["backlog_wait_time"]
        self._rate_limit, self._failure = s["rate_limit"], s["failure"]
        self._rmem_default, self._rmem_max = s["rmem_default"], s["rmem_max"]
        self._lost = self._wait_actual = 0
        self._log = DemoKernelLog()
        self._main = self._retry = 0  # records in the main and retry queues
        self._phase, self._attempt, self._k_now = IDLE, None, now
        self._cycle_failed = False
        self._rate_start, self._rate_count = now, 0
        self._panic: Panic | None = None
        self._frozen: tuple[AuditStatus, SystemInfo] | None = None
        self._flooding, self._flood_n = False, 2
        self._burst_until = -math.inf
        self._bursts_from: float | None = None  # start of the first periodic burst
        self._rotate_until = -math.inf
        self._disk_stall = False
        self._producers = [_Producer("baseline"), _Producer("burst")]
        self._made: dict[str, int] = {}  # records admitted per producer kind, since drained
        self._made_since = now
        self._pid = 0
        self._config_pending: list[ConfigChangeRecord] = []  # not in auditd's log yet
        self.booted_at = now  # mono: a sample polled before this is of the previous boot
        self._start_auditd(now)

    def _start_auditd(self, now: float) -> None:
        """A new auditd registers at once; its socket takes rmem_default now."""
        self._pid = self._auditd_pid = self._next_pid
        self._next_pid += 1_430
        self._inode, self._next_inode = self._next_inode, self._next_inode + 1
        self._alive, self._stopped = True, False
        self._rcvbuf = self._rmem_default
        self._socket = self._drops = 0  # records queued in auditd's socket, overruns
        self._congested = False
        self._read_credit, self._read_left = 0.0, 0
        self._auditd_started = now + self._offset

    # -- integration ------------------------------------------------------------------

    def _advance(self) -> float:
        """Integrate up to the clock's now. The newest FINE_SPAN seconds go
        in MAX_STEP steps; anything older (a long gap between polls) in at
        most COARSE_STEPS steps, so a poll after an hour costs what one
        after 10 s costs and still ends in the right state."""
        now = self._clock()
        if self._panic is not None or now <= self._t:  # frozen, or no time has passed
            self._t = max(now, self._t)
            return self._t
        fine_from = max(self._t, now - FINE_SPAN)
        try:
            if fine_from > self._t:
                self._integrate(fine_from, COARSE_STEPS)
            self._integrate(now, math.ceil((now - self._t) / MAX_STEP - 1e-9))
        except _Panicked:
            # kauditd still hands on what the door let through for it this
            # step (the machine stops, the records in flight are where they go)
            self._kauditd(self._t, self._t)
            self._frozen = (self._status(), self._system(self._t))
            self._t = now
        return now

    def _integrate(self, end: float, steps: int) -> None:
        start = self._t
        for i in range(1, steps + 1):
            t1 = end if i == steps else start + (end - start) * i / steps
            self._step(self._t, t1)
            self._t = t1

    def _step(self, t0: float, t1: float) -> None:
        self._auditd_reads(t0, t1)
        self._kauditd(t0, t1)
        self._produce(t0, t1)
        self._kauditd(t0, t1)

    def _auditd_reads(self, t0: float, t1: float) -> None:
        """What auditd reads this step: first what is queued in its socket,
        then, as they arrive, records kauditd sends during the step."""
        self._read_left = 0
        if not self._alive or self._stopped:
            return
        if self._disk_stall:  # blocked in write(); a batch gets through now and then
            batches = math.floor(t1 / DISK_PERIOD) - math.floor(t0 / DISK_PERIOD)
            credit = self._read_credit + batches * DISK_RATE * DISK_PERIOD
        else:
            rate = ROTATE_RATE if t0 < self._rotate_until else AUDITD_RATE
            credit = self._read_credit + rate * (t1 - t0) * self._rng.uniform(0.9, 1.1)
        whole = int(credit)
        self._read_credit = credit - whole
        taken = min(self._socket, whole)
        self._socket -= taken
        self._read_left = whole - taken
        if self._socket == 0:
            self._congested = False  # netlink_rcv_wake: clears only on an empty queue

    def _room(self) -> int:
        """Records auditd's socket takes now without making kauditd wait."""
        if self._congested:
            return 0
        free = max(0, (self._rcvbuf - self._socket * RECORD_BYTES) // RECORD_BYTES)
        return free + self._read_left

    def _deliver(self, count: int) -> None:
        read = min(count, self._read_left)
        self._read_left -= read
        self._socket += count - read

    def _over_limit(self) -> bool:
        return bool(self._limit) and self._main > self._limit

    def _kauditd(self, t0: float, t1: float) -> None:
        """kauditd's loop: retry queue, then main queue, then wake a waiter.
        A send to a full socket waits SEND_TIMEOUT, then counts an overrun
        (Drops) and moves the record to the retry queue."""
        now = max(t0, self._k_now)
        while True:
            if self._pid and not self._alive and self._main:
                self._pid = 0  # the delivery is refused: the kernel forgets auditd
            if not self._pid:  # no auditd: records go to printk and are freed, not lost
                self._main = self._retry = 0
                self._phase, self._attempt = IDLE, None
                self._wake(now, everyone=True)
                return
            room = self._room()
            if self._attempt is not None:
                source, deadline = self._attempt
                if room == 0 and deadline > t1:
                    return  # still waiting for room
                self._attempt = None
                if room == 0:
                    now = self._k_now = deadline
                    self._drops += 1  # netlink_overrun(): sets CONGESTED too
                    self._congested = True
                    self._cycle_failed = True
                    self._send_failed(source, now)
                    continue
            if self._phase == IDLE:
                if not self._main:
                    return  # kauditd sleeps until the main queue has a record
                self._phase, self._cycle_failed = RETRY, False
            if self._phase == RETRY:
                moved = min(self._retry, room)
                self._retry -= moved
                self._deliver(moved)
                room -= moved
                if self._retry:
                    self._attempt = (RETRY, now + SEND_TIMEOUT)
                    return
                self._phase = MAIN
            moved = min(self._main, room)
            self._main -= moved
            self._deliver(moved)
            if self._main:
                self._attempt = (MAIN, now + SEND_TIMEOUT)
                return
            self._end_cycle(now)
            return

    def _send_failed(self, source: str, now: float) -> None:
        if source == RETRY:  # requeued on the retry queue (-EAGAIN); on to the main queue
            self._phase = MAIN
            return
        # The failed record and the rest of the main queue go to the retry queue,
        # which holds at most backlog_limit records.
        moving, self._main = self._main, 0
        room = moving if not self._limit else max(0, self._limit - self._retry)
        self._retry += min(moving, room)
        self._lose(moving - min(moving, room), "kauditd retry queue overflow", now)
        self._end_cycle(now)

    def _end_cycle(self, now: float) -> None:
        """wake_up(&audit_backlog_wait) wakes one exclusive waiter; cycles
        that delivered everything are so fast that all waiters get through."""
        self._phase = IDLE
        self._wake(now, everyone=not self._cycle_failed)

    def _wake(self, now: float, everyone: bool) -> None:
        held = sorted((p for p in self._producers if p.held_since is not None),
                      key=lambda p: p.held_since)
        for producer in held if everyone else held[:1]:
            self._resume(producer, now)

    def _resume(self, producer: _Producer, now: float) -> None:
        slept = min(now - producer.held_since, producer.budget)
        self._wait_actual = (self._wait_actual + round(slept * HZ)) % U32
        producer.budget -= slept
        producer.held_since = None
        if not self._over_limit():
            return  # its pending record goes through the door next
        if producer.budget > 1e-9:
            producer.held_since = now  # still full: sleeps again on what is left
        else:
            producer.pending = 0
            self._lose(1, "backlog limit exceeded", now)

    def _rate(self, producer: _Producer, t0: float) -> float:
        if producer.kind == "baseline":
            return BASELINE_RATE
        if producer.kind == "flood":
            return min(PRODUCER_RATE, CPU_RATE / self._flood_n) if producer.active else 0.0
        bursting = t0 < self._burst_until or (
            self._bursts_from is not None and (t0 - self._bursts_from) % 1.0 < BURST_SECONDS)
        return PRODUCER_RATE if bursting else 0.0

    def _arrivals(self, producer: _Producer, rate: float, dt: float) -> int:
        mean = rate * dt
        if mean < 1.0:  # rare records: a coin per step
            return 1 if self._rng.random() < mean else 0
        made = producer.carry + mean * self._rng.uniform(0.95, 1.05)
        count = int(made)
        producer.carry = made - count
        return count

    def _door(self) -> float:
        """Records the main queue admits this step: up to limit + 1 (the
        kernel checks `backlog > limit` before queueing) plus what kauditd
        passes straight on to auditd's socket."""
        if not self._pid or not self._alive:
            return math.inf
        through = 0 if self._attempt is not None else max(0, self._room() - self._retry)
        if not self._limit:
            return math.inf
        if self._main > self._limit:
            return 0
        return self._limit + 1 - self._main + through

    def _produce(self, t0: float, t1: float) -> None:
        door = self._door()
        if self._rate_limit and t0 - self._rate_start >= 1.0:
            self._rate_start, self._rate_count = t0, 0
        producers = self._producers
        first = self._rng.randrange(len(producers))
        for producer in producers[first:] + producers[:first]:
            if producer.held_since is not None:
                if producer.held_since + producer.budget > t1:
                    continue  # asleep in audit_log_start
                self._resume(producer, producer.held_since + producer.budget)
            made = producer.pending + self._arrivals(producer, self._rate(producer, t0), t1 - t0)
            producer.pending = 0
            if not made:
                continue
            admitted = int(min(made, door))
            refused = made - admitted  # found the queue over its limit
            if self._rate_limit:  # audit_log_end: records over the rate are lost
                allowed = min(admitted, max(0, self._rate_limit - self._rate_count))
                self._rate_count += allowed
                self._lose(admitted - allowed, "rate limit exceeded", t0)
                admitted = allowed
            door -= admitted
            self._main += admitted
            if admitted:  # what kauditd will send, and the listener see
                self._made[producer.kind] = self._made.get(producer.kind, 0) + admitted
            if not refused:
                producer.budget = 0.0
            elif self._wait == 0:
                self._lose(refused, "backlog limit exceeded", t0)
            else:  # the producer sleeps with its record; it makes no more meanwhile
                producer.pending, producer.held_since = 1, t0
                producer.budget = producer.budget or self._wait / HZ

    def _lose(self, count: int, reason: str, when: float) -> None:
        if count <= 0:
            return
        if self._failure == 2 and self._panic is not None:
            return  # the machine is down already: nothing more is counted or logged
        self._log.lost(reason, count, when, self._failure)
        if self._failure == 2:
            self._lost = (self._lost + 1) % U32
            self._panic = Panic(time=when + self._offset, mono=when, reason=f"audit: {reason}")
            raise _Panicked
        self._lost = (self._lost + count) % U32

    # -- auditd's log: CONFIG_CHANGE -----------------------------------------------------

    def _config_change(self, field: str, old: int, new: int, comm: str,
                       login: bool = True) -> None:
        """The kernel logs a CONFIG_CHANGE record for a setting changed
        (audit_log_config_change); auditd writes it to its log when it next
        reads. `comm`: who changed it (the demo, auditop); `login`: a
        process with a login uid and session (unset), not the demo itself."""
        if old == new:
            return
        self._serial += 1
        unset = AUID_UNSET if login else None
        self._config_pending.append(ConfigChangeRecord(
            time=self._t + self._offset, serial=self._serial, field=field, new=new, old=old,
            res=1, auid=unset, ses=unset, comm=comm))

    def _auditd_log(self) -> AuditdLogReading | None:
        """What following the log gives now, as the live source's reading:
        the records auditd wrote since the previous reading. None while the
        kernel knows no auditd (nothing is followed, as live); a stopped or
        stalled auditd writes nothing yet; a record still queued when auditd
        dies goes to printk, not to the log."""
        if not self._pid:
            self._config_pending = []
            return None
        written = ()
        if self._alive and not self._stopped and not self._disk_stall:
            written, self._config_pending = tuple(self._config_pending), []
        elif not self._alive:
            self._config_pending = []
        return AuditdLogReading(AUDIT_LOG, None, written)

    # -- the sample -------------------------------------------------------------------

    def _status(self) -> AuditStatus:
        return AuditStatus(
            enabled=1, failure=self._failure, pid=self._pid, rate_limit=self._rate_limit,
            backlog_limit=self._limit, lost=self._lost, backlog=self._main,
            feature_bitmap=0x7F, backlog_wait_time=self._wait,
            backlog_wait_time_actual=self._wait_actual)

    def _system(self, now: float) -> SystemInfo:
        process = socket = None
        if self._alive:
            state = "T" if self._stopped else "D" if self._disk_stall else "S"
            process = AuditdProcess(pid=self._auditd_pid, name="auditd", state=state,
                                    start_time=self._auditd_started)
            socket = NetlinkSocketRow(portid=self._auditd_pid, groups=0,
                                      rmem=self._socket * RECORD_BYTES, drops=self._drops,
                                      inode=self._inode, rcvbuf=self._rcvbuf)
        return SystemInfo(rmem_default=self._rmem_default, rmem_max=self._rmem_max,
                          auditd=process, auditd_socket=socket,
                          config=CONFIG if self._alive else None, mem_total=MEM_TOTAL,
                          read_at=now, hz=HZ, auditd_log=self._auditd_log())
