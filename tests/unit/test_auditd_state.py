"""auditd's state report: parsing 3.0.x and 4.x reports, freshness, and the
decision how to ask for one (nothing is ever signalled here)."""

from __future__ import annotations

import os
import signal

import pytest

from auditop.probes import auditd_state
from auditop.probes.auditd_state import (
    AuditdState,
    parse_state,
    parse_version,
    plan_state_request,
    proc_status,
    read_state,
    request_state,
    split_line,
    state_paths,
)

# What Debian's 3.0.9 writes to /var/run/auditd.state (format strings read
# from its binary; values from a default install): three lines have no "=".
REPORT_3_0_9 = """\
audit version = 3.0.9
current time = 05/09/26 07:41:02
process priority = -4
writing to logs = yes
current log size = 1 KB
max log size = 8192 KB
logs detected last rotate/shift = 0
space left on partition = yes
Logging partition free space 45565 MB
space_left setting 75 MB
admin_space_left setting 50 MB
logging suspended = no
file system space action performed = no
admin space action performed = no
disk error detected = no
Number of active plugins = 1
current plugin queue depth = 0
max plugin queue depth used = 4
plugin queue size = 2000
plugin queue overflow detected = no
plugin queueing suspended = no
listening for network connections = no
"""

# 4.x (as `auditctl --signal state` printed it on 4.0.5): "=" everywhere,
# plus glibc memory lines.
REPORT_4 = """\
audit version = 4.0.5
current time = 07/14/25 13:33:40
process priority = -4
writing to logs = yes
current log size = 675 KB
max log size = 51200 KB
logs detected last rotate/shift = 0
space left on partition = yes
Logging partition free space = 41087 MB
space_left setting = 100 MB
admin_space_left setting = 50 MB
logging suspended = no
file system space action performed = no
admin space action performed = no
disk error detected = no
Number of active plugins = 0
current plugin queue depth = 12
max plugin queue depth used = 1999
plugin queue size = 2000
plugin queue overflow detected = yes
plugin queueing suspended = yes
listening for network connections = no
glibc arena (total memory) is: 244 KiB, was: 244 KiB
glibc uordblks (in use memory) is: 90 KiB, was: 90 KiB
glibc fordblks (total free space) is: 153 KiB, was: 154 KiB
"""


def test_3_0_9_report():
    state = parse_state(REPORT_3_0_9, "/var/run/auditd.state", 1000.0)
    assert state == AuditdState(
        path="/var/run/auditd.state", mtime=1000.0, version="3.0.9",
        current_time="05/09/26 07:41:02", priority=-4, writing_to_logs=True,
        log_size="1 KB", max_log_size="8192 KB", space_left_on_partition=True,
        free_space="45565 MB", space_left="75 MB", admin_space_left="50 MB",
        logging_suspended=False, space_action_performed=False,
        admin_space_action_performed=False, disk_error=False, plugins_active=1,
        plugin_queue_depth=0, plugin_queue_max_depth=4, plugin_queue_size=2000,
        plugin_queue_overflow=False, plugin_queueing_suspended=False, listening=False,
        extra={"logs detected last rotate/shift": "0"}, damaged=())
    assert auditd_state.parse_version(state.version) == (3, 0, 9)


def test_4_x_report():
    state = parse_state(REPORT_4, "/run/audit/auditd.state", 5.0)
    assert (state.path, state.version, state.free_space, state.space_left) == (
        "/run/audit/auditd.state", "4.0.5", "41087 MB", "100 MB")
    assert state.admin_space_left == "50 MB"
    assert (state.plugin_queue_depth, state.plugin_queue_max_depth,
            state.plugin_queue_size) == (12, 1999, 2000)
    assert state.plugin_queue_overflow is True and state.plugin_queueing_suspended is True
    assert state.extra["glibc arena (total memory)"] == "244 KiB, was: 244 KiB"
    assert state.damaged == ()


def test_2_8_report_names_time_differently():
    state = parse_state("time = 01/19/21 18:34:36\ndispatcher pid = 0\n")
    assert state.current_time == "01/19/21 18:34:36"
    assert state.extra == {"dispatcher pid": "0"}


def test_damaged_and_unknown_lines_are_never_fatal():
    text = ("audit version = 3.0.9\n"
            "plugin queue size = lots\n"
            "writing to logs = maybe\n"
            "\x00\xff garbage without a separator\n"
            "a brand new counter = 7\n"
            " = orphan value\n"
            "current plugin queue de")  # cut while auditd was still writing
    state = parse_state(text)
    assert state.version == "3.0.9"
    assert state.plugin_queue_size is None and state.writing_to_logs is None
    assert state.extra == {"a brand new counter": "7"}
    assert state.damaged == ("plugin queue size = lots", "writing to logs = maybe",
                             "\x00\xff garbage without a separator", "= orphan value",
                             "current plugin queue de")
    assert state.plugin_queue_depth is None


def test_empty_report():
    assert parse_state("") == AuditdState(path="", mtime=0.0)


@pytest.mark.parametrize("line, pair", [
    ("audit version = 3.0.9", ("audit version", "3.0.9")),
    ("Logging partition free space 45565 MB", ("Logging partition free space", "45565 MB")),
    ("space_left setting 75 MB", ("space_left setting", "75 MB")),
    ("a = b = c", ("a", "b = c")),
    ("no separator here", None),
])
def test_split_line(line, pair):
    assert split_line(line) == pair


# -------------------------------------------------------------- freshness

def write_report(path, text, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def test_fresh_report_is_read(tmp_path):
    path = tmp_path / "auditd.state"
    write_report(path, REPORT_3_0_9, 1000.0)
    state = read_state(str(path), max_age_s=30, now=1010.0)
    assert state is not None and state.version == "3.0.9" and state.mtime == 1000.0


def test_stale_report_is_none(tmp_path):
    path = tmp_path / "auditd.state"
    write_report(path, REPORT_3_0_9, 1000.0)
    assert read_state(str(path), max_age_s=30, now=1031.0) is None


def test_missing_report_is_none(tmp_path):
    assert read_state(str(tmp_path / "nothing"), now=0.0) is None


def test_freshest_of_both_paths_wins(tmp_path, monkeypatch):
    old, new = tmp_path / "var" / "auditd.state", tmp_path / "run" / "audit" / "auditd.state"
    write_report(old, REPORT_3_0_9, 1000.0)
    write_report(new, REPORT_4, 1005.0)
    monkeypatch.setattr(auditd_state, "state_paths", lambda: (str(new), str(old)))
    assert read_state(now=1006.0).version == "4.0.5"
    os.utime(old, (1007.0, 1007.0))
    assert read_state(now=1008.0).version == "3.0.9"


def test_state_paths_newest_layout_first():
    assert state_paths() == ("/run/audit/auditd.state", "/var/run/auditd.state")


# ---------------------------------------------------- asking for a report

@pytest.mark.parametrize("text, version", [
    ("3.0.9", (3, 0, 9)),
    ("1:3.0.9-1", (3, 0, 9)),
    ("auditctl version 4.1.2", (4, 1, 2)),
    ("4.0", (4, 0)),
    ("", None),
    (None, None),
    ("unknown", None),
])
def test_parse_version(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize("state, version, action", [
    ("S", "3.0.9", "sigcont"),
    ("R", "3.0.9", "sigcont"),
    ("S", "3.1.0", "sigcont"),
    ("S", "3.1.1", "auditctl"),
    ("S", "4.1.2", "auditctl"),
    ("S", None, "sigcont"),  # every auditd since 2.x dumps on SIGCONT
    ("T", "3.0.9", "refuse"),
    ("t", "4.1.2", "refuse"),
    ("Z", "3.0.9", "refuse"),
    ("", "3.0.9", "refuse"),
    (None, "3.0.9", "refuse"),
])
def test_plan(state, version, action):
    assert plan_state_request(1234, state, version).action == action


@pytest.mark.parametrize("pid", [None, 0, 1, -1])
def test_never_signals_a_process_group_or_init(pid):
    assert plan_state_request(pid, "S", "3.0.9").action == "refuse"


class Recorder:
    """Stands in for os.kill and auditctl: records, never signals."""

    def __init__(self, run_result=(0, ""), kill_error=None):
        self.kills, self.runs = [], []
        self.run_result, self.kill_error = run_result, kill_error

    def kill(self, pid, sig):
        self.kills.append((pid, sig))
        if self.kill_error:
            raise self.kill_error

    def run(self, argv, timeout):
        self.runs.append(argv)
        return self.run_result


def ask(recorder, state="S", version="3.0.9", now=("auditd", "S"), pid=1234):
    return request_state(pid, state, version, kill=recorder.kill, run=recorder.run,
                         status=lambda p: now)


def test_3_0_x_gets_sigcont():
    recorder = Recorder()
    assert ask(recorder) == "asked auditd (pid 1234) for a state report (SIGCONT)"
    assert recorder.kills == [(1234, signal.SIGCONT)] and recorder.runs == []


def test_3_1_1_and_later_use_auditctl():
    recorder = Recorder()
    assert "auditctl --signal state" in ask(recorder, version="4.1.2")
    assert recorder.runs == [["auditctl", "--signal", "state"]] and recorder.kills == []


def test_stopped_auditd_is_never_signalled():
    recorder = Recorder()
    message = ask(recorder, state="T", now=("auditd", "T"))
    assert message.startswith("not asked:") and "would resume it" in message
    assert recorder.kills == [] and recorder.runs == []


def test_auditd_stopped_since_the_caller_looked_is_not_signalled():
    recorder = Recorder()
    assert "stopped" in ask(recorder, state="S", now=("auditd", "T"))
    assert recorder.kills == []
    assert "stopped" in ask(recorder, state="S", version="4.1.2", now=("auditd", "t"))
    assert recorder.runs == []


def test_reused_pid_is_not_signalled():
    recorder = Recorder()
    assert "'sleep', not auditd" in ask(recorder, now=("sleep", "S"))
    assert recorder.kills == []


def test_gone_auditd():
    recorder = Recorder()
    assert "gone" in ask(recorder, now=None)
    assert "gone" in ask(Recorder(kill_error=ProcessLookupError()))
    assert "not permitted" in ask(Recorder(kill_error=PermissionError()))


def test_auditctl_failure_is_one_line():
    recorder = Recorder(run_result=(255, "Unknown option --signal"))
    message = ask(recorder, version="3.1.1")
    assert message == "not asked: auditctl --signal state failed: Unknown option --signal"


def test_missing_auditctl():
    def run(argv, timeout):
        raise FileNotFoundError(2, "No such file or directory")

    message = request_state(1234, "S", "4.1.2", kill=Recorder().kill, run=run,
                            status=lambda p: ("auditd", "S"))
    assert message == "not asked: cannot run auditctl: No such file or directory"


def test_proc_status_of_this_process():
    comm, state = proc_status(os.getpid())
    assert comm and state in "RS"
    assert proc_status(2**22 + 12345) is None  # above pid_max: never a process


def test_proc_status_with_a_paren_in_comm(tmp_path):
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text("42 (a) b) T 1 42 42 0 -1\n")
    assert proc_status(42, str(tmp_path)) == ("a) b", "T")


def test_version_of_the_installed_auditd_is_cached(monkeypatch):
    calls = []

    def query(argv):
        calls.append(argv[0])
        return {"dpkg-query": None, "rpm": None, "auditctl": "auditctl version 3.0.9"}[argv[0]]

    auditd_state.auditd_version.cache_clear()
    monkeypatch.setattr(auditd_state, "_query", query)
    try:
        assert auditd_state.auditd_version() == "3.0.9"
        assert auditd_state.auditd_version() == "3.0.9"
        assert calls == ["dpkg-query", "rpm", "auditctl"]
    finally:
        auditd_state.auditd_version.cache_clear()


def test_version_from_the_real_package():
    auditd_state.auditd_version.cache_clear()
    version = auditd_state.auditd_version()
    auditd_state.auditd_version.cache_clear()
    if version is None:
        pytest.skip("no auditd package or auditctl here")
    assert parse_version(version) >= (2, 0)


# ---------------------------------------------------------- fresh_state

def _auditd(start_time):
    from auditop.core.model import AuditdProcess
    return AuditdProcess(pid=812, name="auditd", state="S", start_time=start_time)


def _written(path, text, mtime):
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return str(path)


def test_fresh_state_of_the_running_auditd(tmp_path):
    from auditop.probes.auditd_state import fresh_state
    path = _written(tmp_path / "auditd.state", REPORT_3_0_9, 1000.0)
    state = fresh_state(_auditd(900.0), None, now=1010.0, paths=(path,))
    assert state.plugin_queue_size == 2000 and state.mtime == 1000.0
    assert fresh_state(None, None, now=1010.0, paths=(path,)) is None  # no auditd, no report
    assert fresh_state(_auditd(900.0), None, now=1031.0, paths=(path,)) is None  # 31 s old
    # Written before this auditd started: a previous auditd's report.
    assert fresh_state(_auditd(1005.0), None, now=1010.0, paths=(path,)) is None


def test_report_interval_widens_freshness(tmp_path):
    from auditop.core.model import AuditdConfig
    from auditop.probes.auditd_state import fresh_state, max_age
    config = AuditdConfig(path="/c", report_interval=60)
    assert max_age(config) == 125.0 and max_age(None) == 30.0
    path = _written(tmp_path / "auditd.state", REPORT_4, 1000.0)
    assert fresh_state(_auditd(None), config, now=1100.0, paths=(path,)).version == "4.0.5"


def test_fresh_state_picks_the_newest_file_and_rereads_it_when_it_changes(tmp_path):
    from auditop.probes.auditd_state import fresh_state
    old = _written(tmp_path / "old.state", REPORT_3_0_9, 1000.0)
    new = _written(tmp_path / "new.state", REPORT_4, 1001.0)
    assert fresh_state(_auditd(None), None, now=1002.0, paths=(old, new)).path == new
    first = fresh_state(_auditd(None), None, now=1002.0, paths=(new,))
    assert fresh_state(_auditd(None), None, now=1002.0, paths=(new,)) is first  # cached
    _written(tmp_path / "new.state", REPORT_4.replace("depth = 12", "depth = 13"), 1003.0)
    assert fresh_state(_auditd(None), None, now=1004.0,
                       paths=(new,)).plugin_queue_depth == 13


def test_report_written_since(tmp_path):
    from auditop.probes.auditd_state import report_written_since
    path = _written(tmp_path / "auditd.state", REPORT_4, 1000.0)
    assert report_written_since(1000.0, (path,))
    assert not report_written_since(1001.0, (path,))
    assert not report_written_since(0.0, (str(tmp_path / "absent"),))
