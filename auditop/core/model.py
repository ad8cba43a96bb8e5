"""The data that flows through auditop: one frozen Sample per poll.

kernel + /proc + auditd files -> Sample -> History -> findings -> widgets.
Everything here is immutable so it can cross from the polling thread to the
UI thread without locks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The fields of the kernel's struct audit_status, in wire order (after `mask`).
STATUS_FIELDS: tuple[str, ...] = (
    "enabled",
    "failure",
    "pid",
    "rate_limit",
    "backlog_limit",
    "lost",
    "backlog",
    "feature_bitmap",
    "backlog_wait_time",
    "backlog_wait_time_actual",
)

# The kernel's failure modes (AUDIT_FAIL_SILENT, _PRINTK, _PANIC).
FAILURE_MODES: dict[int, str] = {0: "silent", 1: "printk", 2: "PANIC"}

# Fields auditop may change with AUDIT_SET. It never sets failure, enabled or pid.
SETTABLE_FIELDS: tuple[str, ...] = ("backlog_limit", "rate_limit", "backlog_wait_time")


@dataclass(frozen=True, slots=True)
class AuditStatus:
    """One AUDIT_GET reply. None means the kernel's reply did not carry the
    field (older kernels send a shorter struct), never zero."""

    enabled: int | None = None
    failure: int | None = None
    pid: int | None = None
    rate_limit: int | None = None
    backlog_limit: int | None = None
    lost: int | None = None
    backlog: int | None = None
    feature_bitmap: int | None = None
    backlog_wait_time: int | None = None
    backlog_wait_time_actual: int | None = None


@dataclass(frozen=True, slots=True)
class NetlinkSocketRow:
    """One NETLINK_AUDIT row of /proc/net/netlink."""

    portid: int
    groups: int
    rmem: int  # bytes queued for reading (truesize)
    drops: int  # netlink_overrun() events on this socket
    inode: int
    # sk_rcvbuf, the buffer the socket really has (bytes, `rb` in `ss -m`),
    # from sock_diag; None when only /proc/net/netlink could be read.
    rcvbuf: int | None = None


@dataclass(frozen=True, slots=True)
class AuditdProcess:
    pid: int
    name: str
    state: str  # one letter from /proc/<pid>/stat: R, S, D, T (stopped), t, Z ...
    start_time: float | None  # wall-clock seconds since the epoch

    @property
    def stopped(self) -> bool:
        return self.state in ("T", "t")


@dataclass(frozen=True, slots=True)
class AuditdConfig:
    """The keys of auditd.conf that decide whether auditd keeps up."""

    path: str
    flush: str | None = None
    freq: int | None = None
    log_format: str | None = None
    q_depth: int | None = None
    overflow_action: str | None = None
    priority_boost: int | None = None
    disp_qos: str | None = None
    active_plugins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BootParams:
    """`audit=` and `audit_backlog_limit=` from /proc/cmdline (None: not given)."""

    audit: str | None = None
    audit_backlog_limit: int | None = None


@dataclass(frozen=True, slots=True)
class SystemInfo:
    rmem_default: int | None = None
    rmem_max: int | None = None
    auditd: AuditdProcess | None = None
    auditd_socket: NetlinkSocketRow | None = None
    multicast_readers: tuple[NetlinkSocketRow, ...] = ()
    config: AuditdConfig | None = None
    boot: BootParams = field(default_factory=BootParams)
    mem_total: int | None = None  # bytes
    hz: int | None = None  # the kernel's CONFIG_HZ: backlog_wait_time is in jiffies
    # Why the sockets' real buffers (NetlinkSocketRow.rcvbuf) are unknown:
    # sock_diag unavailable or failing. None when it answered (or was not asked).
    sock_diag_error: str | None = None
    # Why the kernel log cannot be followed (loss causes unknown); None when it can.
    kernel_log_error: str | None = None
    # time.monotonic() when /proc was read: probes are read at 2 Hz, so a
    # counter here (auditd's socket drops) is a reading of that moment, not
    # of the samples that reuse it.
    read_at: float | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """Everything auditop knows at one moment.

    `status` is None when the kernel did not answer; `error` then says why
    (for example "no answer for 2.0 s"). `system` is None in a sample that
    records a silence: it carries no reading it did not make. `mono` is
    time.monotonic(), used for rates; `time` is wall-clock seconds since the
    epoch, used for display. `held_senders` / `held_for`: how many of
    auditop's senders the kernel is holding asleep, and the longest for how
    long (the kernel throttles every process that talks to audit while the
    backlog is over its limit; the values are real all the same).
    `loss_causes`: (cause id, messages) for the kernel log messages naming
    why records were lost that arrived since the previous sample (ids in
    core/losses.py); `loss_suppressed`: how many more such messages the
    kernel's printk rate limit suppressed meanwhile. Messages, not records.
    """

    time: float
    mono: float
    status: AuditStatus | None
    system: SystemInfo | None
    error: str | None = None
    poll_seconds: float = 0.0  # how long the kernel took to answer
    held_senders: int = 0
    held_for: float = 0.0
    loss_causes: tuple[tuple[str, int], ...] = ()
    loss_suppressed: int = 0

    @property
    def throttled(self) -> bool:
        return self.held_senders > 0
