"""The data that flows through auditop: one frozen Sample per poll.

kernel + /proc + auditd files -> Sample -> History -> findings -> widgets.
Everything here is immutable so it can cross from the polling thread to the
UI thread without locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

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
    report_interval: int | None = None  # seconds between state reports (auditd 4.0.5+)
    log_file: str | None = None
    write_logs: str | None = None


@dataclass(frozen=True, slots=True)
class BootParams:
    """`audit=` and `audit_backlog_limit=` from /proc/cmdline (None: not given)."""

    audit: str | None = None
    audit_backlog_limit: int | None = None


@dataclass(frozen=True, slots=True)
class ConfigChangeRecord:
    """One CONFIG_CHANGE record from auditd's log (kernel/audit.c
    audit_log_config_change: `op=set audit_backlog_limit=100 old=64 auid=0
    ses=1 res=1`), with the process from the SYSCALL and PROCTITLE records
    of the same event (same `msg=audit(time:serial)`). None: not in the log."""

    time: float  # the record's own timestamp, epoch seconds
    serial: int
    field: str  # the status field (backlog_limit, rate_limit, ...)
    new: int
    old: int
    res: int | None = None  # 1 applied, 0 refused (audit locked)
    auid: int | None = None  # 4294967295: unset (no login session)
    ses: int | None = None
    pid: int | None = None
    ppid: int | None = None
    uid: int | None = None
    comm: str | None = None
    exe: str | None = None
    command: str | None = None  # PROCTITLE: the command line, arguments joined by blanks


@dataclass(frozen=True, slots=True)
class AuditdLogReading:
    """What following auditd's log gave at one system reading."""

    path: str | None  # the log auditd writes (auditd.conf's log_file)
    unavailable: str | None = None  # why it cannot be followed, if it cannot
    changes: tuple[ConfigChangeRecord, ...] = ()  # read since the previous reading


@dataclass(frozen=True, slots=True)
class AuditdState:
    """One auditd state report (probes/auditd_state.py). Fields are None
    where the report has no line for them (another version) or the line was
    unreadable."""

    path: str
    mtime: float  # epoch seconds: when auditd wrote it
    version: str | None = None
    current_time: str | None = None  # as written: auditd's locale "%x %X"
    priority: int | None = None
    writing_to_logs: bool | None = None
    log_size: str | None = None  # "2423 KB"
    max_log_size: str | None = None
    space_left_on_partition: bool | None = None
    free_space: str | None = None  # "45565 MB"
    space_left: str | None = None  # the space_left setting, "75 MB"
    admin_space_left: str | None = None
    logging_suspended: bool | None = None
    space_action_performed: bool | None = None
    admin_space_action_performed: bool | None = None
    disk_error: bool | None = None
    plugins_active: int | None = None
    plugin_queue_depth: int | None = None
    plugin_queue_max_depth: int | None = None
    plugin_queue_size: int | None = None
    plugin_queue_overflow: bool | None = None
    plugin_queueing_suspended: bool | None = None
    listening: bool | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    damaged: tuple[str, ...] = ()


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
    hz_source: str | None = None  # where hz came from (probes/boot.kernel_hz_reading)
    # Why the sockets' real buffers (NetlinkSocketRow.rcvbuf) are unknown:
    # sock_diag unavailable or failing. None when it answered (or was not asked).
    sock_diag_error: str | None = None
    # Why the kernel log cannot be followed (loss causes unknown); None when it can.
    kernel_log_error: str | None = None
    auditd_log: AuditdLogReading | None = None  # None: not followed (no auditd)
    auditd_state: AuditdState | None = None  # the newest fresh report, if any
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
    poll_seconds: float = 0.0  # from the request going out to its answer read (live: about a period)
    held_senders: int = 0
    held_for: float = 0.0
    loss_causes: tuple[tuple[str, int], ...] = ()
    loss_suppressed: int = 0
    # `audit: type=...` records kauditd printed to the kernel log instead of
    # delivering them to auditd (none running, or it could not take them).
    records_printed: int = 0

    @property
    def throttled(self) -> bool:
        return self.held_senders > 0
