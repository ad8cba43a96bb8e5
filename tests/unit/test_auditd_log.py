"""Following auditd's log for CONFIG_CHANGE records: parsing lines captured
from the lab (kernel 6.18, auditd 3.0.9, log_format ENRICHED), and the
follower on files that grow, rotate, get truncated and end mid-line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.model import AuditdConfig, ConfigChangeRecord
from auditop.probes.auditd_log import (
    AuditdLog, auditd_conf_path, config_dir, fields, log_path, parse_config_change,
    record_id, untrusted)

# `auditctl -b 100`, `-r 5`, `-b 64`, `-r 0` in the lab; the last CONFIG_CHANGE
# (rate_limit 5 -> 0) is missing: the kernel's own rate limit (5/s) dropped it.
REAL_LOG = (Path(__file__).parent / "fixtures" / "auditd-3.0.9-config-change.log").read_bytes()
BACKLOG_100 = ConfigChangeRecord(
    time=1796155973.794, serial=61766, field="backlog_limit", new=100, old=64, res=1,
    auid=4294967295, ses=4294967295, pid=14356, ppid=14177, uid=0, comm="auditctl",
    exe="/usr/sbin/auditctl", command="auditctl -b 100")


def lines_of(kind: bytes) -> list[bytes]:
    return [line for line in REAL_LOG.splitlines() if line.startswith(kind)]


# ------------------------------------------------------------------ parsing

def test_config_change_line_from_the_lab():
    record = parse_config_change(lines_of(b"type=CONFIG_CHANGE")[0])
    assert record == ConfigChangeRecord(time=1796155973.794, serial=61766,
                                        field="backlog_limit", new=100, old=64, res=1,
                                        auid=4294967295, ses=4294967295)


def test_enriched_part_is_not_parsed_as_fields():
    line = lines_of(b"type=SYSCALL")[0]
    assert b"\x1d" in line
    values = fields(line)
    assert values["comm"] == '"auditctl"' and "AUID" not in values and "SYSCALL" not in values


@pytest.mark.parametrize("line, field, new, old", [
    (b"type=CONFIG_CHANGE msg=audit(1.5:7): op=set audit_rate_limit=5 old=0 auid=0 ses=2 res=1",
     "rate_limit", 5, 0),
    (b"type=CONFIG_CHANGE msg=audit(1.5:7): op=set audit_backlog_wait_time=0 old=15000 auid=0 "
     b"ses=2 res=1", "backlog_wait_time", 0, 15000),
    (b"type=CONFIG_CHANGE msg=audit(1.5:7): op=set audit_failure=2 old=1 auid=0 ses=2 "
     b"subj=unconfined res=1", "failure", 2, 1),
    (b"type=CONFIG_CHANGE msg=audit(1.5:7): op=set audit_enabled=0 old=1 auid=1000 ses=3 "
     b"subj=system_u:system_r:auditctl_t:s0 res=1", "enabled", 0, 1),
    # Kernels before 3.19 wrote no "op=set"; a node= prefix (name_format).
    (b"node=web1 type=CONFIG_CHANGE msg=audit(1.5:7): audit_backlog_limit=320 old=64 "
     b"auid=0 ses=1 res=1", "backlog_limit", 320, 64),
])
def test_each_watched_setting(line, field, new, old):
    record = parse_config_change(line)
    assert (record.field, record.new, record.old, record.time, record.serial) == (
        field, new, old, 1.5, 7)


@pytest.mark.parametrize("line", [
    b"type=CONFIG_CHANGE msg=audit(1.5:7): op=set audit_pid=812 old=0 auid=0 ses=1 res=1",
    b"type=CONFIG_CHANGE msg=audit(1.5:7): op=add_rule key=\"x\" list=4 res=1",
    b"type=CONFIG_CHANGE msg=audit(1.5:7): op=set audit_backlog_limit=abc old=64 res=1",
    b"type=CONFIG_CHANGE no id here audit_backlog_limit=1 old=2",
])
def test_other_config_changes_are_not_settings(line):
    assert parse_config_change(line) is None


@pytest.mark.parametrize("value, expected", [
    ('"auditctl"', "auditctl"),
    ("617564697463746C002D6200313030", "auditctl -b 100"),
    ("2F746D702F6D7920746F6F6C", "/tmp/my tool"),  # a blank makes the kernel write hex
    ("(null)", None), ("?", None), (None, None),
])
def test_untrusted_strings(value, expected):
    assert untrusted(value) == expected


def test_record_id():
    assert record_id(lines_of(b"type=SYSCALL")[0]) == (
        b"audit(1796155973.794:61766)", 1796155973.794, 61766)
    assert record_id(b"garbage") is None


@given(st.binary(max_size=300))
def test_parsing_never_raises(data):
    record = parse_config_change(b"type=CONFIG_CHANGE msg=audit(1.2:3): " + data)
    assert record is None or isinstance(record, ConfigChangeRecord)
    parsed = fields(data)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())


# ------------------------------------------------------------- where it logs

def proc_with(tmp_path: Path, pid: int, argv: list[str], cwd: str = "/") -> str:
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    os.symlink(cwd, proc / str(pid) / "cwd")
    return str(proc)


@pytest.mark.parametrize("args, expected", [
    (["-n", "-c", "/tmp/lab/etc"], "/tmp/lab/etc"),  # the lab's private auditd
    (["-c/tmp/x"], "/tmp/x"),
    (["-nc", "/tmp/y"], "/tmp/y"),
    (["-s", "nochange", "-c", "/z"], "/z"),
    (["-s", "-c"], None),  # -s takes "-c" as its argument
    (["-n"], None), ([], None), (["--", "-c", "/no"], None),
])
def test_config_dir(args, expected):
    assert config_dir(args) == expected


def test_conf_path_from_cmdline(tmp_path):
    proc = proc_with(tmp_path, 42, ["auditd", "-n", "-c", "/tmp/lab/etc"])
    assert auditd_conf_path(42, proc) == "/tmp/lab/etc/auditd.conf"
    proc = proc_with(tmp_path / "b", 43, ["/sbin/auditd"])
    assert auditd_conf_path(43, proc) == "/etc/audit/auditd.conf"
    proc = proc_with(tmp_path / "c", 44, ["auditd", "-c", "etc"], cwd="/srv/audit")
    assert auditd_conf_path(44, proc) == "/srv/audit/etc/auditd.conf"
    assert auditd_conf_path(45, proc) == "/etc/audit/auditd.conf"  # gone
    assert auditd_conf_path(0, proc) == "/etc/audit/auditd.conf"


def test_log_path():
    assert log_path(None) == ("/var/log/audit/audit.log", None)
    assert log_path(AuditdConfig(path="/c", log_file="/l/a.log")) == ("/l/a.log", None)
    path, why = log_path(AuditdConfig(path="/c", write_logs="no"))
    assert path is None and why == "auditd writes no log (write_logs = no in /c)"


# ------------------------------------------------------------------ follower

def test_old_lines_are_never_read(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(REAL_LOG)
    follower = AuditdLog(str(log))
    assert follower.poll() == []
    with open(log, "ab") as f:
        f.write(REAL_LOG)
    records = follower.poll()
    assert [r.serial for r in records] == [61766, 61767, 61768]
    assert records[0] == BACKLOG_100
    assert follower.poll() == []  # nothing new: nothing again


def test_partial_lines_wait_for_their_end(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    follower = AuditdLog(str(log))
    cut = REAL_LOG.index(b"comm=") + 3  # in the middle of the SYSCALL line
    with open(log, "ab") as f:
        f.write(REAL_LOG[:REAL_LOG.index(b"res=1") + 2])  # half a CONFIG_CHANGE
    assert follower.poll() == []
    with open(log, "ab") as f:
        f.write(REAL_LOG[REAL_LOG.index(b"res=1") + 2:cut])
    assert follower.poll() == []  # the SYSCALL line is still cut: waiting for it
    with open(log, "ab") as f:
        f.write(REAL_LOG[cut:])
    assert follower.poll()[0] == BACKLOG_100


def test_a_lost_syscall_record_gives_the_change_alone(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    follower = AuditdLog(str(log))
    with open(log, "ab") as f:
        f.write(lines_of(b"type=CONFIG_CHANGE")[0] + b"\n")
    results = [follower.poll() for _ in range(3)]
    assert results[:2] == [[], []]
    assert results[2][0].comm is None and results[2][0].auid == 4294967295


def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    follower = AuditdLog(str(log))
    first, rest = REAL_LOG.split(b"type=CONFIG_CHANGE msg=audit(1796155973.798", 1)
    with open(log, "ab") as f:
        f.write(first)
    os.rename(log, tmp_path / "audit.log.1")  # auditd's rotation: rename, then a new file
    log.write_bytes(b"type=CONFIG_CHANGE msg=audit(1796155973.798" + rest)
    records = follower.poll()
    assert [r.serial for r in records] == [61766, 61767, 61768]
    assert records[1].command == "auditctl -r 5"
    with open(log, "ab") as f:
        f.write(REAL_LOG)
    assert len(follower.poll()) == 3  # and it follows the new file on


def test_a_line_cut_by_rotation_does_not_glue_onto_the_next(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    follower = AuditdLog(str(log))
    with open(log, "ab") as f:
        f.write(b"type=DAEMON_ROTATE msg=audit(1.0:1): cut")  # no newline
    os.rename(log, tmp_path / "audit.log.1")
    log.write_bytes(REAL_LOG)
    assert [r.serial for r in follower.poll()] == [61766, 61767, 61768]


def test_truncation_starts_over(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(REAL_LOG * 3)
    follower = AuditdLog(str(log))
    log.write_bytes(REAL_LOG[:1200])  # same inode, shorter (copytruncate)
    records = follower.poll()
    assert [r.serial for r in records] == [61766]


def test_missing_log_says_why_and_is_followed_from_its_start_when_it_appears(tmp_path):
    log = tmp_path / "audit.log"
    follower = AuditdLog(str(log))
    assert follower.poll() == []
    assert follower.unavailable == f"auditd's log {log} does not exist"
    log.write_bytes(REAL_LOG)
    assert len(follower.poll()) == 3
    assert follower.unavailable is None


def test_unreadable_log(tmp_path, monkeypatch):
    # Root reads any file, so the kernel's answer to another user is made here.
    from auditop.probes import auditd_log

    def refused(path: str) -> int:
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(auditd_log, "_open", refused)
    log = tmp_path / "audit.log"
    log.write_bytes(REAL_LOG)
    follower = AuditdLog(str(log))
    assert follower.poll() == [] and "Permission denied" in follower.unavailable


def test_budget_spreads_a_big_backlog_over_polls(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    follower = AuditdLog(str(log), budget=1000)
    with open(log, "ab") as f:
        f.write(REAL_LOG)
    found = []
    for _ in range(10):
        found += follower.poll()
    assert [r.serial for r in found] == [61766, 61767, 61768]


def test_too_far_behind_skips_to_the_end(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    follower = AuditdLog(str(log), budget=1000, max_behind=2000)
    with open(log, "ab") as f:
        f.write(REAL_LOG)  # 3028 bytes: more than max_behind
    assert follower.poll() == [] and follower.skipped == len(REAL_LOG)
    with open(log, "ab") as f:
        f.write(REAL_LOG[:1200])
    assert [r.serial for r in follower.poll()] == [61766]
