"""Who changed a setting: CONFIG_CHANGE records in the log auditd writes.

The kernel logs every AUDIT_SET of a setting as a CONFIG_CHANGE record
(kernel/audit.c audit_log_config_change; audit_log_session_info adds auid
and ses), in the context of the syscall that sent it, so the SYSCALL record
of the same event (same `msg=audit(time:serial)`) names the process, and
PROCTITLE its command line. Measured here (kernel 6.18, auditd 3.0.9,
log_format ENRICHED, which appends 0x1d and names after each record; the
lines cut here at "\"):

    type=CONFIG_CHANGE msg=audit(1796155973.794:61766): op=set \
        audit_backlog_limit=100 old=64 auid=4294967295 ses=4294967295 res=1
    type=SYSCALL msg=audit(1796155973.794:61766): arch=c000003e syscall=44 \
        success=yes ... ppid=14177 pid=14356 auid=4294967295 uid=0 ... \
        comm="auditctl" exe="/usr/sbin/auditctl" key=(null)
    type=PROCTITLE msg=audit(1796155973.794:61766): \
        proctitle=617564697463746C002D6200313030

The kernel writes no CONFIG_CHANGE while audit is off (enabled 0, so not
for `-e 1` either), and the record can itself be lost (the rate limit).

AuditdLog follows the file from its end, without blocking: it remembers its
offset and the file's inode, reads what was appended since (at most
READ_BUDGET bytes a poll), keeps a partial last line for the next poll,
finishes the old file after a rotation (auditd renames audit.log to
audit.log.1 and opens a new one) and starts over after a truncation.
Only CONFIG_CHANGE lines and the lines of their events are parsed: the
rest is skipped with bytes.find.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from auditop.core.model import AuditdConfig, ConfigChangeRecord
from auditop.probes._files import int_or_none

DEFAULT_CONF = "/etc/audit/auditd.conf"
DEFAULT_LOG = "/var/log/audit/audit.log"
READ_BUDGET = 4 * 1024 * 1024  # bytes read per poll at most; the rest waits
MAX_BEHIND = 64 * 1024 * 1024  # further behind than this: skip to the end
MAX_LINE = 64 * 1024  # a partial line longer than this is not a record we want
PENDING_POLLS = 3  # polls a CONFIG_CHANGE waits for its SYSCALL record

# The kernel's names in CONFIG_CHANGE (audit_do_config_change callers).
KERNEL_NAMES = {
    "audit_enabled": "enabled",
    "audit_failure": "failure",
    "audit_backlog_limit": "backlog_limit",
    "audit_rate_limit": "rate_limit",
    "audit_backlog_wait_time": "backlog_wait_time",
}
# auditd's getopt (auditd.c): options that take an argument.
_OPTIONS_WITH_ARGUMENT = "cs"

_CONFIG_CHANGE = b"type=CONFIG_CHANGE "
_ID = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\): ?")
_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_ENRICHED = b"\x1d"  # log_format ENRICHED: the interpreted names follow


# --------------------------------------------------------- where auditd logs

def auditd_conf_path(pid: int | None, proc_root: str = "/proc",
                     default: str = DEFAULT_CONF) -> str:
    """The auditd.conf auditd `pid` reads: DIR/auditd.conf when it runs with
    `-c DIR` (its /proc/<pid>/cmdline), else the default."""
    if not pid or pid < 0:
        return default
    try:
        with open(os.path.join(proc_root, str(pid), "cmdline"), "rb") as f:
            argv = [a.decode("utf-8", "surrogateescape") for a in f.read().split(b"\0") if a]
    except OSError:
        return default
    directory = config_dir(argv[1:])
    if directory is None:
        return default
    if not os.path.isabs(directory):
        try:
            cwd = os.readlink(os.path.join(proc_root, str(pid), "cwd"))
        except OSError:
            return default
        directory = os.path.join(cwd, directory)
    return os.path.join(directory, "auditd.conf")


def config_dir(args: list[str]) -> str | None:
    """The argument of -c in auditd's options ("-c DIR", "-cDIR", "-nc DIR")."""
    found = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            continue
        for j, letter in enumerate(arg[1:], start=1):
            if letter in _OPTIONS_WITH_ARGUMENT:
                value = arg[j + 1:]
                if not value and i < len(args):
                    value, i = args[i], i + 1
                if letter == "c":
                    found = value
                break
    return found


def log_path(config: AuditdConfig | None) -> tuple[str | None, str | None]:
    """(the log auditd writes, None) or (None, why it writes none)."""
    if config is not None and (config.write_logs or "yes").lower() == "no":
        return None, f"auditd writes no log (write_logs = no in {config.path})"
    return (config.log_file if config is not None and config.log_file else DEFAULT_LOG), None


# --------------------------------------------------------------- records

def record_id(line: bytes) -> tuple[bytes, float, int] | None:
    """(b"audit(T:S)", T, S) of one log line, or None."""
    match = _ID.search(line)
    if match is None:
        return None
    seconds, fraction, serial = match.groups()
    stamp = seconds + b"." + fraction
    return b"audit(" + stamp + b":" + serial + b")", float(stamp), int(serial)


def fields(line: bytes) -> dict[str, str]:
    """The name=value pairs after `msg=audit(...):`, without the ENRICHED part."""
    match = _ID.search(line)
    body = line[match.end():] if match else line
    body = body.split(_ENRICHED, 1)[0].rstrip(b"\r\n")
    text = body.decode("utf-8", "replace")
    return {name: value for name, value in _FIELD.findall(text)}


def untrusted(value: str | None) -> str | None:
    """A string field as the kernel logs it (audit_log_untrustedstring):
    quoted, or hex when it holds a blank, a quote or a control character;
    NULs (between PROCTITLE's arguments) become blanks."""
    if value is None or value in ("(null)", "(none)", "?"):
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if _HEX.match(value):
        raw = bytes.fromhex(value).rstrip(b"\0")
        return raw.replace(b"\0", b" ").decode("utf-8", "replace")
    return value


def parse_config_change(line: bytes) -> ConfigChangeRecord | None:
    """A CONFIG_CHANGE line setting one of the five watched settings, or None."""
    ident = record_id(line)
    if ident is None:
        return None
    values = fields(line)
    for kernel_name, field in KERNEL_NAMES.items():
        new, old = int_or_none(values.get(kernel_name)), int_or_none(values.get("old"))
        if new is not None and old is not None:
            return ConfigChangeRecord(
                time=ident[1], serial=ident[2], field=field, new=new, old=old,
                res=int_or_none(values.get("res")), auid=int_or_none(values.get("auid")),
                ses=int_or_none(values.get("ses")))
    return None


def with_syscall(record: ConfigChangeRecord, line: bytes) -> ConfigChangeRecord:
    values = fields(line)
    auid = record.auid if record.auid is not None else int_or_none(values.get("auid"))
    return replace(record, pid=int_or_none(values.get("pid")),
                   ppid=int_or_none(values.get("ppid")), uid=int_or_none(values.get("uid")),
                   comm=untrusted(values.get("comm")), exe=untrusted(values.get("exe")),
                   auid=auid)


def with_proctitle(record: ConfigChangeRecord, line: bytes) -> ConfigChangeRecord:
    return replace(record, command=untrusted(fields(line).get("proctitle")))


# --------------------------------------------------------------- follower

@dataclass
class _Pending:
    record: ConfigChangeRecord
    ident: bytes
    polls: int = 1  # polls it has been seen in
    syscall: bool = False
    proctitle: bool = False


def _open(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)


class AuditdLog:
    """Follows auditd's log from now on; poll() never raises or blocks.

    Where the log cannot be read, `unavailable` says why (and poll returns
    nothing); it is tried again on every poll, so a log that appears later
    (auditd starting) is followed from its start.
    """

    def __init__(self, path: str, *, budget: int = READ_BUDGET,
                 max_behind: int = MAX_BEHIND,
                 tap: Callable[[bytes, int], None] | None = None) -> None:
        self.path = path
        # Given every complete line read, and the bytes jumped over since
        # the last call (the producers from the log, core/producers.LogCounts).
        self.tap = tap
        self._skipped_told = 0
        self.unavailable: str | None = None
        self.skipped = 0  # bytes jumped over when too far behind
        self._budget, self._max_behind = budget, max_behind
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None  # (st_dev, st_ino) of the open file
        self._partial = b""
        self._pending: list[_Pending] = []
        self._first = True  # the file there now is read from its end; later ones from their start
        self._reopen()
        self._first = False

    def poll(self) -> list[ConfigChangeRecord]:
        """Every complete CONFIG_CHANGE event appended since the last poll."""
        try:
            return self._poll()
        except OSError as exc:  # the file went away under us, or close() raced
            self.unavailable = _why(self.path, exc)
            self._close()
            return []

    def _poll(self) -> list[ConfigChangeRecord]:
        if self._fd is None:
            self._reopen()
            if self._fd is None:
                return self._expire_all()
        data = self._read_available(self._budget)
        try:
            st = os.stat(self.path)
        except OSError:
            st = None  # mid-rotation: keep the open file
        if st is not None and (st.st_dev, st.st_ino) != self._inode:
            # Rotated: the old file is read to its end above (what fit the
            # budget; the rest of it is given up), the new one from its start.
            data += self._line_end(data)
            self._close()
            self._reopen()
            if self._fd is not None:
                data += self._read_available(max(self._budget - len(data), 0))
        elif st is not None and self._fd is not None and st.st_size < self._offset():
            self._partial = b""  # truncated in place: start over
            os.lseek(self._fd, 0, os.SEEK_SET)
            data += self._read_available(self._budget)
        return self._scan(data)

    def notice(self) -> str | None:
        return self.unavailable

    def close(self) -> None:
        self._close()

    # -- reading ------------------------------------------------------------

    def _reopen(self) -> None:
        try:
            fd = _open(self.path)
            st = os.fstat(fd)
        except OSError as exc:
            self.unavailable = _why(self.path, exc)
            return
        self._fd, self._inode = fd, (st.st_dev, st.st_ino)
        self.unavailable = None
        if self._first:
            os.lseek(fd, 0, os.SEEK_END)  # never re-read what was logged before

    def _offset(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR) if self._fd is not None else 0

    def _read_available(self, budget: int) -> bytes:
        if self._fd is None or budget <= 0:
            return b""
        try:
            behind = os.fstat(self._fd).st_size - self._offset()
            if behind > self._max_behind:
                self.skipped += behind
                self._partial = b""
                os.lseek(self._fd, 0, os.SEEK_END)
                return b""
            data = os.read(self._fd, min(budget, max(behind, 0)) or 1)
            # A regular file gives all that was asked in one read; loop only
            # for what arrived after the fstat.
            while len(data) < budget and (more := os.read(self._fd, budget - len(data))):
                data += more
        except OSError as exc:
            self.unavailable = _why(self.path, exc)
            self._close()
            return b""
        return data

    def _line_end(self, data: bytes) -> bytes:
        """A rotated file's last line has its newline; guard against one
        that was cut, so it does not glue onto the new file's first line."""
        tail = data or self._partial
        return b"\n" if tail and not tail.endswith(b"\n") else b""

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:
                pass  # already closed: nothing left to release

    # -- parsing ------------------------------------------------------------

    def _scan(self, data: bytes) -> list[ConfigChangeRecord]:
        buf = self._partial + data if self._partial else data
        cut = buf.rfind(b"\n") + 1  # complete lines end here (no copy: bounds only)
        self._partial = buf[cut:] if len(buf) - cut <= MAX_LINE else b""
        if self.tap is not None and (cut or self.skipped > self._skipped_told):
            self.tap(buf[:cut], self.skipped - self._skipped_told)
            self._skipped_told = self.skipped
        waiting = list(self._pending)
        for pending in waiting:
            pending.polls += 1
            self._complete(pending, buf, 0, cut)
        position = buf.find(_CONFIG_CHANGE, 0, cut)
        while position >= 0:
            start = buf.rfind(b"\n", 0, position) + 1
            end = buf.find(b"\n", position, cut)
            line = buf[start:end]
            record = parse_config_change(line)
            if record is not None:
                ident = record_id(line)[0]
                self._pending.append(_Pending(record, ident))
                self._complete(self._pending[-1], buf, end, cut)
            position = buf.find(_CONFIG_CHANGE, end, cut)
        done = [p for p in self._pending
                if (p.syscall and p.proctitle) or p.polls >= PENDING_POLLS]
        self._pending = [p for p in self._pending if p not in done]
        return [p.record for p in done]

    def _complete(self, pending: _Pending, buf: bytes, start: int, cut: int) -> None:
        """Fill in the SYSCALL and PROCTITLE records of the event, if in
        buf[start:cut] (complete lines only)."""
        for kind, attr, add in ((b"type=SYSCALL msg=", "syscall", with_syscall),
                                (b"type=PROCTITLE msg=", "proctitle", with_proctitle)):
            if getattr(pending, attr):
                continue
            at = buf.find(kind + pending.ident, start, cut)
            if at >= 0:
                pending.record = add(pending.record, buf[at:buf.find(b"\n", at, cut)])
                setattr(pending, attr, True)

    def _expire_all(self) -> list[ConfigChangeRecord]:
        for pending in self._pending:
            pending.polls += 1
        done = [p for p in self._pending if p.polls >= PENDING_POLLS]
        self._pending = [p for p in self._pending if p not in done]
        return [p.record for p in done]


def _why(path: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"auditd's log {path} does not exist"
    return f"cannot read auditd's log ({path}: {exc.strerror or exc})"
