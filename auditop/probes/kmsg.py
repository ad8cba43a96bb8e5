"""Why the kernel lost audit records, from the kernel log (/dev/kmsg).

`lost` in AUDIT_GET says how many records were lost, not why. The kernel
says why in its log, with the strings of kernel/audit.c (prefix "audit: "
from its pr_fmt): `audit_log_lost(reason)` prints the counters line
(`audit_lost=N audit_rate_limit=N audit_backlog_limit=N`) and, when
failure = 1, the reason itself (`audit_panic`). Both go through
printk_ratelimit(), a kernel-wide budget (10 messages per 5 s by default),
so in a flood most lines are not printed: the kernel then says
`<function>: N callbacks suppressed`.

The counts here are of log messages naming a cause: evidence of which
cause is at work, not the number of records lost (that is `lost`). With
failure = 0 the kernel prints no reason at all, only the counters line.

KernelLog follows /dev/kmsg from the moment it opens, non-blocking, and
never raises on a poll: where the log cannot be read it says why once
(`unavailable`) and returns nothing.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from auditop.core.losses import CAUSES, as_causes, cause_label

KMSG_PATH = "/dev/kmsg"
READ_SIZE = 16384  # a record is at most 8 KiB (CONSOLE_EXT_LOG_MAX); a short buffer is EINVAL
MAX_READS_PER_POLL = 10000  # bound one poll's work in a printk flood
KERNEL_FACILITY = 0  # userspace writes to /dev/kmsg get facility 1 (user) or more

# Cause ids and their labels live in core (findings name them); re-exported.
__all__ = ["CAUSES", "KernelLog", "LossCauseFollower", "LossReport", "cause_label",
           "loss_causes", "scan"]

_PREFIX = "audit: "
# `audit_panic(msg)` prints "audit: <msg>" verbatim.
_REASONS = {
    "backlog limit exceeded": "backlog-limit",
    "rate limit exceeded": "rate-limit",
    "kauditd hold queue overflow": "hold-queue",
    "kauditd retry queue overflow": "retry-queue",
    # kauditd_printk_skb: a record auditd could not take, past printk's limit
    "printk limit exceeded": "printk-limit",
    "auditd disappeared": "auditd-gone",  # before 4.11
    "out of memory in audit_log_start": "out-of-memory",
    "out of memory in audit_expand": "out-of-memory",
    "out of memory in audit_alloc": "out-of-memory",
}
# audit_log_start, when it drops a record over the limit (rate-gated).
_BACKLOG = re.compile(r"audit_backlog=(\d+) > audit_backlog_limit=(\d+)$")
# Before 4.11, kauditd reset audit_pid when a send to auditd failed.
_PID_RESET = re.compile(r"audit_pid=\d+ reset$")
_LOST = re.compile(r"audit_lost=(\d+) audit_rate_limit=(\d+) audit_backlog_limit=(\d+)$")
# ___ratelimit() prints "<caller's __func__>: N callbacks suppressed" without
# a pr_fmt prefix; these are the audit functions that call printk_ratelimit()
# (kauditd_printk_skb for the printk fallback of records, audit_printk_skb
# before 4.11), plus a bare "audit" for a pr_fmt'd caller.
_SUPPRESSED = re.compile(
    r"(audit|audit_log_start|audit_log_lost|audit_panic|kauditd_printk_skb|audit_printk_skb|"
    r"kauditd_hold_skb): (\d+) callbacks suppressed$")
# `/dev/kmsg` records: "prio,seq,usec,flags[,...];text"; dmesg: "[  12.345678] text".
_KMSG_PREFIX = re.compile(r"^\d+,\d+,\d+,[^;]*;")
_DMESG_PREFIX = re.compile(r"^\[\s*\d+\.\d+\]\s?")


@dataclass(frozen=True, slots=True)
class LostLine:
    """The kernel's counters at the moment it printed them."""

    lost: int
    rate_limit: int
    backlog_limit: int


@dataclass(frozen=True, slots=True)
class LossReport:
    """What a batch of kernel log messages says about lost audit records."""

    causes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    suppressed: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    unattributed_suppressed: int = 0  # suppressed before any cause was seen
    latest_lost: LostLine | None = None
    last_cause: str | None = None  # pass to the next scan() to keep attributing
    # `audit: type=N ...` lines: records kauditd printed to the kernel log
    # instead of delivering them (no auditd, or one that could not take them
    # for long); they left the pipeline without being counted in `lost`.
    printed: int = 0


def message_text(line: str) -> str | None:
    """The message of one log line (a /dev/kmsg record, a dmesg line or bare
    text), or None for a continuation line (" KEY=value" metadata)."""
    if not line or line[0] in " \t":
        return None
    line = _KMSG_PREFIX.sub("", line, count=1)
    line = _DMESG_PREFIX.sub("", line, count=1)
    return line.rstrip("\n")


def scan(messages: Iterable[str], last_cause: str | None = None) -> LossReport:
    """Count loss causes in kernel log messages.

    A `callbacks suppressed` count means that many further rate-limited
    messages were not printed. The budget is kernel-wide, so the count may
    include other functions' messages; it is attributed to the most recent
    cause seen (in this batch, or `last_cause` from the previous one), the
    best guess of what was flooding, and kept apart when no cause was seen.
    """
    causes: dict[str, int] = {}
    suppressed: dict[str, int] = {}
    unattributed = 0
    printed = 0
    latest_lost = None
    for line in messages:
        text = message_text(line)
        if text is None:
            continue
        count = _suppressed_count(text)
        if count is not None:
            if last_cause is None:
                unattributed += count
            else:
                suppressed[last_cause] = suppressed.get(last_cause, 0) + count
            continue
        if not text.startswith(_PREFIX):
            continue
        body = text[len(_PREFIX):]
        lost = _LOST.match(body)
        if lost:
            latest_lost = LostLine(*(int(v) for v in lost.groups()))
            continue
        if body.startswith("type="):  # a record printed instead of delivered
            printed += 1
            continue
        cause = _REASONS.get(body) or ("backlog-limit" if _BACKLOG.match(body) else None)
        if cause is None and _PID_RESET.match(body):
            cause = "auditd-gone"
        if cause is not None:
            causes[cause] = causes.get(cause, 0) + 1
            last_cause = cause
    return LossReport(MappingProxyType(causes), MappingProxyType(suppressed), unattributed,
                      latest_lost, last_cause, printed)


def loss_causes(messages: Iterable[str]) -> dict[str, int]:
    """Messages naming each cause id, plus suppressed messages attributed to
    it (see scan())."""
    report = scan(messages)
    totals = dict(report.causes)
    for cause, count in report.suppressed.items():
        totals[cause] = totals.get(cause, 0) + count
    return totals


def _suppressed_count(text: str) -> int | None:
    match = _SUPPRESSED.match(text)
    return int(match.group(2)) if match else None


# ----------------------------------------------------------------- follower

@dataclass(frozen=True, slots=True)
class KmsgRecord:
    facility: int
    level: int
    seq: int
    usec: int  # since boot
    text: str


def parse_record(raw: bytes) -> KmsgRecord | None:
    """One /dev/kmsg record: "prio,seq,usec,flags;text\\n" then " KEY=value"
    lines. None if the header is malformed."""
    line = raw.split(b"\n", 1)[0].decode("utf-8", "replace")
    header, sep, text = line.partition(";")
    parts = header.split(",")
    if not sep or len(parts) < 4:
        return None
    try:
        prio, seq, usec = int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return None
    return KmsgRecord(prio >> 3, prio & 7, seq, usec, text)


def split_records(chunk: bytes) -> list[bytes]:
    """Records in what one read() returned: exactly one from /dev/kmsg, any
    number from a pipe or file (continuation lines stay with their record)."""
    records: list[bytes] = []
    for line in chunk.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and records:
            records[-1] += line
        elif line.strip():
            records.append(line)
    return records


def _open_kmsg(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


class KernelLog:
    """Follows the kernel log from now on, without blocking.

    `opener` (path -> fd) and `read` (fd, size -> bytes) are injectable so
    tests drive it from a pipe or a file.
    """

    def __init__(self, path: str = KMSG_PATH, *, opener: Callable[[str], int] = _open_kmsg,
                 read: Callable[[int, int], bytes] = os.read) -> None:
        self.path = path
        self._read = read
        self._fd: int | None = None
        self.unavailable: str | None = None  # why the log cannot be followed, once set
        self._told = False
        self.overwritten = 0  # records the kernel overwrote before we read them
        self._last_seq: int | None = None
        try:
            fd = opener(path)
        except OSError as exc:
            self.unavailable = _why(path, exc)
            return
        self._fd = fd
        self._skip_past(fd)

    def _skip_past(self, fd: int) -> None:
        """Start at the end, so what was logged before is never re-read."""
        try:
            os.lseek(fd, 0, os.SEEK_END)
        except OSError as exc:
            if exc.errno != errno.ESPIPE:  # a pipe has no past to skip
                self._give_up(_why(self.path, exc))

    def read_records(self) -> list[KmsgRecord]:
        """Every record logged since the last call (at most MAX_READS_PER_POLL
        reads; the rest wait for the next call)."""
        records: list[KmsgRecord] = []
        for _ in range(MAX_READS_PER_POLL):
            if self._fd is None:
                break
            try:
                chunk = self._read(self._fd, READ_SIZE)
            except BlockingIOError:  # EAGAIN: nothing more for now
                break
            except BrokenPipeError:  # EPIPE: the ring overwrote our position
                continue  # the next read returns the oldest record still there
            except InterruptedError:
                continue
            except OSError as exc:
                self._give_up(_why(self.path, exc))
                break
            if not chunk:  # end of a file or a closed pipe
                break
            for raw in split_records(chunk):
                record = parse_record(raw)
                if record is not None:
                    self._count_gap(record.seq)
                    records.append(record)
        return records

    def read_new(self) -> list[str]:
        """The text of every kernel message logged since the last call.
        Messages userspace wrote into /dev/kmsg (another facility) are left
        out: anyone with write access could forge "audit: ..." lines."""
        return [r.text for r in self.read_records() if r.facility == KERNEL_FACILITY]

    def notice(self) -> str | None:
        """Why the log cannot be followed, the first time it is asked after
        that became true; None before and after (a poll loop says it once)."""
        if self.unavailable is None or self._told:
            return None
        self._told = True
        return self.unavailable

    def _count_gap(self, seq: int) -> None:
        if self._last_seq is not None and seq > self._last_seq + 1:
            self.overwritten += seq - self._last_seq - 1
        self._last_seq = seq

    def _give_up(self, reason: str) -> None:
        self.unavailable = reason
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> KernelLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _why(path: str, exc: OSError) -> str:
    if exc.errno in (errno.EPERM, errno.EACCES):
        return (f"cannot read the kernel log ({path}: {exc.strerror}): "
                "loss causes need root or CAP_SYSLOG (kernel.dmesg_restrict)")
    if exc.errno == errno.ENOENT:
        return f"no kernel log device here ({path} is missing): loss causes unknown"
    return f"cannot read the kernel log ({path}: {exc.strerror or exc}): loss causes unknown"


class LossCauseFollower:
    """The loss causes the kernel logged since the previous poll, for a
    source that polls: (cause id, messages) pairs and the number of further
    audit messages the kernel suppressed. Never blocks, never re-reads a
    line; where the log cannot be read it returns nothing and
    `unavailable` says why (the source reports it once, in SystemInfo)."""

    def __init__(self, log: KernelLog | None = None) -> None:
        self.log = log if log is not None else KernelLog()
        self._last_cause: str | None = None

    @property
    def unavailable(self) -> str | None:
        return self.log.unavailable

    def poll(self) -> tuple[tuple[tuple[str, int], ...], int, int]:
        """(causes, suppressed messages, records printed to the log)."""
        messages = self.log.read_new()
        if not messages:
            return (), 0, 0
        report = scan(messages, self._last_cause)
        self._last_cause = report.last_cause
        suppressed = sum(report.suppressed.values()) + report.unattributed_suppressed
        return as_causes(report.causes), suppressed, report.printed

    def close(self) -> None:
        self.log.close()
