"""Loss causes from kernel log lines, and the /dev/kmsg follower on fake and
real descriptors (read-only)."""

from __future__ import annotations

import errno
import os

import pytest

from auditop.probes import kmsg
from auditop.probes.kmsg import (
    CAUSES,
    KernelLog,
    KmsgRecord,
    LostLine,
    cause_label,
    loss_causes,
    message_text,
    parse_record,
    scan,
    split_records,
)

# What a flood with auditd stopped looks like in /dev/kmsg (failure = 1,
# rate_limit = 0): pr_warn is level 4, pr_err level 3, facility 0 (kernel).
FLOOD = [
    "4,1201,5678901,-;audit: audit_backlog=65 > audit_backlog_limit=64",
    "4,1202,5678905,-;audit: audit_lost=1 audit_rate_limit=0 audit_backlog_limit=64",
    "3,1203,5678907,-;audit: backlog limit exceeded",
    "4,1204,5678990,-;audit: audit_backlog=65 > audit_backlog_limit=64",
    "4,1205,5678991,-;audit: audit_lost=2 audit_rate_limit=0 audit_backlog_limit=64",
    "3,1206,5678993,-;audit: backlog limit exceeded",
    "4,1207,10679001,-;audit_log_start: 18231 callbacks suppressed",
    "4,1208,10679004,-;audit: audit_lost=18236 audit_rate_limit=0 audit_backlog_limit=64",
]


def test_every_cause_has_a_label():
    assert cause_label("backlog-limit") == "backlog limit exceeded"
    assert set(CAUSES) == {"backlog-limit", "rate-limit", "hold-queue", "retry-queue",
                           "printk-limit", "auditd-gone", "out-of-memory"}


# kauditd_hold_skb on a kernel booted without audit=1: records auditd could
# not take are printed (kauditd_printk_skb) while printk allows, the rest
# counted lost as "printk limit exceeded"; before 4.11, "audit_pid=N reset".
PRINTED = [
    '5,2001,1000,-;audit: type=1300 audit(1733600000.123:77): arch=c000003e syscall=257 '
    'success=yes exit=3 a0=ffffff9c items=1 ppid=1 pid=4242 auid=0 uid=0 comm="cat" '
    'exe="/usr/bin/cat" key="scratch"',
    '5,2002,1001,-;audit: type=1307 audit(1733600000.123:77): cwd="/tmp"',
    '4,2003,1002,-;kauditd_printk_skb: 312 callbacks suppressed',
    '3,2004,1003,-;audit: printk limit exceeded',
    '3,2005,1004,-;audit: audit_pid=812 reset',
    '13,2006,1005,-;audit: type=1300 forged by a user (facility 1)',
]


def test_printed_records_and_the_causes_of_a_host_without_audit_1():
    report = scan([line for line in PRINTED if not line.startswith("13,")])
    assert report.printed == 2
    assert dict(report.causes) == {"printk-limit": 1, "auditd-gone": 1}
    assert cause_label("printk-limit") == "printk limit exceeded"


def test_flood_counts_backlog_messages_and_attributes_suppressed_ones():
    report = scan(FLOOD)
    assert dict(report.causes) == {"backlog-limit": 4}
    assert dict(report.suppressed) == {"backlog-limit": 18231}
    assert report.latest_lost == LostLine(lost=18236, rate_limit=0, backlog_limit=64)
    assert report.last_cause == "backlog-limit"
    assert loss_causes(FLOOD) == {"backlog-limit": 4 + 18231}


@pytest.mark.parametrize("line, cause", [
    ("audit: backlog limit exceeded", "backlog-limit"),
    ("audit: audit_backlog=8193 > audit_backlog_limit=8192", "backlog-limit"),
    ("audit: rate limit exceeded", "rate-limit"),
    ("audit: kauditd hold queue overflow", "hold-queue"),
    ("audit: kauditd retry queue overflow", "retry-queue"),
    ("audit: out of memory in audit_log_start", "out-of-memory"),
    ("audit: out of memory in audit_expand", "out-of-memory"),
    ("audit: out of memory in audit_alloc", "out-of-memory"),
])
def test_each_kernel_string_names_its_cause(line, cause):
    assert loss_causes([line]) == {cause: 1}


@pytest.mark.parametrize("line", [
    "audit: type=1300 audit(1795175668.158:1): arch=c000003e syscall=257 success=yes",
    "audit: initializing netlink subsys (disabled)",
    "audit: backlog limit exceeded, but not quite",  # not the kernel's exact text
    "usb 1-1: backlog limit exceeded",
    "e1000: rate limit exceeded",
    "",
])
def test_other_lines_count_nothing(line):
    assert loss_causes([line]) == {}


def test_prefix_forms_and_continuation_lines():
    lines = [
        "6,1234,5678901,-;audit: rate limit exceeded",
        " SUBSYSTEM=audit",
        " DEVICE=+audit:kernel",
        "[ 5678.901234] audit: kauditd hold queue overflow",
        "[    1.000000] audit: kauditd retry queue overflow",
        "4,1235,5678999,c;audit: out of memory in audit_log_start",
    ]
    assert loss_causes(lines) == {"rate-limit": 1, "hold-queue": 1, "retry-queue": 1,
                                  "out-of-memory": 1}


def test_message_text():
    assert message_text("6,1234,5678901,-;audit: x\n") == "audit: x"
    assert message_text(" SUBSYSTEM=audit") is None
    assert message_text("[   12.345678] audit: x") == "audit: x"
    assert message_text("audit: x") == "audit: x"


def test_suppressed_before_any_cause_is_kept_apart():
    report = scan(["audit_log_lost: 40 callbacks suppressed", "audit: rate limit exceeded",
                   "audit_panic: 7 callbacks suppressed"])
    assert report.unattributed_suppressed == 40
    assert dict(report.suppressed) == {"rate-limit": 7}


def test_attribution_carries_over_between_polls():
    first = scan(["audit: kauditd retry queue overflow"])
    second = scan(["audit: 12 callbacks suppressed"], last_cause=first.last_cause)
    assert dict(second.suppressed) == {"retry-queue": 12}


def test_other_subsystems_suppressed_counts_are_ignored():
    assert scan(["audit: rate limit exceeded",
                 "net_ratelimit: 300 callbacks suppressed"]).suppressed == {}


def test_latest_counters_line_wins():
    report = scan(["audit: audit_lost=5 audit_rate_limit=10 audit_backlog_limit=64",
                   "audit: audit_lost=9 audit_rate_limit=10 audit_backlog_limit=128"])
    assert report.latest_lost == LostLine(9, 10, 128)
    assert report.causes == {}


# ----------------------------------------------------------------- records

def test_parse_record():
    raw = b"3,1203,5678907,-;audit: backlog limit exceeded\n SUBSYSTEM=audit\n"
    assert parse_record(raw) == KmsgRecord(0, 3, 1203, 5678907, "audit: backlog limit exceeded")
    assert parse_record(b"14,9,10,-;hello from userspace\n").facility == 1


@pytest.mark.parametrize("raw", [b"", b"no header\n", b"a,b,c,-;x\n", b"1,2;x\n"])
def test_malformed_records_are_none(raw):
    assert parse_record(raw) is None


def test_split_records_keeps_continuations_with_their_record():
    chunk = b"6,1,0,-;one\n SUBSYSTEM=x\n6,2,0,-;two\n"
    assert split_records(chunk) == [b"6,1,0,-;one\n SUBSYSTEM=x\n", b"6,2,0,-;two\n"]


# ---------------------------------------------------------------- follower

def test_follower_on_a_pipe_returns_new_kernel_messages_then_nothing(pipe):
    read_end, write_end = pipe
    log = KernelLog("fake-kmsg", opener=lambda path: read_end)
    assert log.read_new() == []  # EAGAIN: nothing yet
    os.write(write_end, b"3,10,100,-;audit: backlog limit exceeded\n SUBSYSTEM=audit\n")
    os.write(write_end, b"12,11,101,-;audit: backlog limit exceeded\n")  # user facility: forged
    os.write(write_end, b"4,12,102,-;audit_log_start: 3 callbacks suppressed\n")
    assert log.read_new() == ["audit: backlog limit exceeded",
                              "audit_log_start: 3 callbacks suppressed"]
    assert log.read_new() == []
    assert log.unavailable is None
    log.close()


def test_follower_on_a_file_skips_what_was_there_before(tmp_path):
    path = tmp_path / "kmsg"
    path.write_bytes(b"3,1,100,-;audit: rate limit exceeded\n")
    with KernelLog(str(path)) as log:  # the real opener: O_RDONLY | O_NONBLOCK
        assert log.read_new() == []
        with open(path, "ab") as f:
            f.write(b"3,2,200,-;audit: kauditd hold queue overflow\n")
        assert log.read_new() == ["audit: kauditd hold queue overflow"]


class ScriptedReads:
    """A read() that returns or raises what the script says, then EAGAIN."""

    def __init__(self, *steps):
        self.steps = list(steps)
        self.calls = 0

    def __call__(self, fd, size):
        self.calls += 1
        if not self.steps:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def scripted_log(reads) -> KernelLog:
    read_end, write_end = os.pipe()
    os.close(write_end)
    return KernelLog("fake-kmsg", opener=lambda path: read_end, read=reads)


def test_epipe_skips_overwritten_records_and_counts_them():
    reads = ScriptedReads(b"3,5,1,-;audit: rate limit exceeded\n",
                          BrokenPipeError(errno.EPIPE, "Broken pipe"),
                          b"3,9,2,-;audit: rate limit exceeded\n")
    log = scripted_log(reads)
    assert log.read_new() == ["audit: rate limit exceeded"] * 2
    assert log.overwritten == 3  # seq 6, 7 and 8 were lost to the ring
    log.close()


def test_a_poll_is_bounded_even_if_epipe_never_stops(monkeypatch):
    monkeypatch.setattr(kmsg, "MAX_READS_PER_POLL", 50)
    reads = ScriptedReads(*[BrokenPipeError(errno.EPIPE, "Broken pipe")] * 1000)
    log = scripted_log(reads)
    assert log.read_new() == [] and reads.calls == 50
    log.close()


def test_read_error_makes_the_follower_unavailable_without_raising():
    log = scripted_log(ScriptedReads(OSError(errno.EIO, "Input/output error")))
    assert log.read_new() == []
    assert "Input/output error" in log.unavailable
    assert log.read_new() == []


@pytest.mark.parametrize("code, needle", [
    (errno.EPERM, "CAP_SYSLOG"),
    (errno.EACCES, "CAP_SYSLOG"),
    (errno.ENOENT, "missing"),
])
def test_unopenable_log_is_unavailable_and_said_once(code, needle):
    def refuse(path):
        raise OSError(code, os.strerror(code))

    log = KernelLog("/dev/kmsg", opener=refuse)
    assert needle in log.unavailable and "\n" not in log.unavailable
    assert log.read_new() == [] and log.read_new() == []
    assert log.notice() == log.unavailable
    assert log.notice() is None


def test_notice_is_none_while_available(pipe):
    log = KernelLog("fake-kmsg", opener=lambda path: pipe[0])
    assert log.notice() is None
    log.close()


def test_real_kmsg_is_followed_from_the_end():
    """Read-only: the records already in the ring are never returned."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        pytest.skip(f"/dev/kmsg not readable here: {exc.strerror}")
    last_seq = -1
    try:
        while True:
            try:
                record = parse_record(os.read(fd, kmsg.READ_SIZE))
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            if record is not None:
                last_seq = max(last_seq, record.seq)
    finally:
        os.close(fd)
    with KernelLog() as log:
        assert log.unavailable is None
        records = log.read_records()
        assert all(r.seq > last_seq for r in records)
        assert all(isinstance(text, str) for text in log.read_new())
