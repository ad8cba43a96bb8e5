"""Reading `auditop record` files back: versions 1 and 2, damage, files that
are not recordings, streaming."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditop.core.findings import Finding
from auditop.core.model import AuditStatus
from auditop.sources import recording
from auditop.sources.recording import NotARecording, RecordedWindow, read_recording

FINDING = {"id": "lost-increasing", "severity": "critical",
           "title": "Audit records are being lost", "detail": "The kernel dropped 412000 ...",
           "remedy": None}
SYSTEM = {
    "rmem_default": 212992, "rmem_max": 4194304,
    "auditd": {"pid": 4242, "name": "auditd", "state": "T", "start_time": 1795329000.0,
               "netlink_rmem": 212352, "netlink_drops": 35},
    "multicast_readers": [{"portid": 2147483650, "rmem": 0, "drops": 3}],
    "auditd_conf": {"path": "/etc/audit/auditd.conf", "flush": "incremental_async",
                    "freq": 50, "log_format": "enriched", "q_depth": 2000,
                    "overflow_action": "syslog", "priority_boost": 4, "disp_qos": None,
                    "active_plugins": ["af_unix"]},
    "boot": {"audit": "1", "audit_backlog_limit": 8192},
    "mem_total": 25276510208,
    "backlog_memory_estimate": {"typical": 22020096, "worst": 134217728},
}
STATUS = {"enabled": 1, "failure": 1, "pid": 4242, "rate_limit": 0, "backlog_limit": 64,
          "lost": 412000, "backlog": 65, "feature_bitmap": 127, "backlog_wait_time": 0,
          "backlog_wait_time_actual": 0}
# A line as `auditop record` wrote it before format version 2 (docs/json.md).
V1 = {"time": 1795329774.29, "status": STATUS, "system": SYSTEM, "findings": [FINDING],
      "error": None,
      "window": {"seconds": 1.0, "samples": 10, "failures": 0, "backlog_peak": 65,
                 "lost": 412000, "lost_per_s": 412000.0, "netlink_drops_per_s": 35.0,
                 "wait_per_s": 0.0}}


def v2(**top) -> dict:
    line = copy.deepcopy(V1)
    line.update({"version": 2, "held_senders": 1, "held_for": 1.5, **top})
    line["window"].update(lost_seconds=1.0, drops_seconds=0.5, wait_seconds=1.0)
    return line


def write(tmp_path, *lines, name="rec.jsonl", end="\n") -> str:
    path = tmp_path / name
    path.write_bytes("\n".join(
        line if isinstance(line, str) else json.dumps(line) for line in lines).encode()
        + end.encode())
    return str(path)


def refusal(path) -> str:
    with pytest.raises(NotARecording) as caught:
        read_recording(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_version_1_line():
    (window,) = read_recording_of(V1)
    assert isinstance(window, RecordedWindow)
    assert (window.line_no, window.version, window.time, window.seconds) == (
        1, 1, 1795329774.29, 1.0)
    assert window.status == AuditStatus(**STATUS)
    assert (window.backlog_peak, window.lost, window.lost_per_s) == (65, 412000, 412000.0)
    assert (window.netlink_drops_per_s, window.wait_per_s) == (35.0, 0.0)
    assert (window.samples, window.failures, window.error) == (10, 0, None)
    assert window.findings == (Finding(**FINDING),)
    assert window.held_for is None and window.lost_seconds is None
    system = window.system
    assert (system.rmem_default, system.rmem_max, system.mem_total) == (
        212992, 4194304, 25276510208)
    assert (system.auditd.pid, system.auditd.state, system.auditd.stopped) == (4242, "T", True)
    assert (system.auditd_socket.portid, system.auditd_socket.rmem,
            system.auditd_socket.drops) == (4242, 212352, 35)
    assert [(r.portid, r.drops) for r in system.multicast_readers] == [(2147483650, 3)]
    assert system.config.q_depth == 2000 and system.config.active_plugins == ("af_unix",)
    assert (system.boot.audit, system.boot.audit_backlog_limit) == ("1", 8192)


def read_recording_of(*lines):
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        result = read_recording(write(Path(tmp), *lines))
    assert result.problems == ()
    return result.windows


def test_version_2_line_and_unknown_keys_ignored():
    line = v2(future_top={"a": 1})
    line["window"]["future_rate"] = 3.0
    line["system"]["future_probe"] = [1, 2]
    line["status"]["future_field"] = 7
    (window,) = read_recording_of(line)
    assert window.version == 2
    assert (window.held_senders, window.held_for) == (1, 1.5)
    assert (window.lost_seconds, window.drops_seconds, window.wait_seconds) == (1.0, 0.5, 1.0)
    assert window.status == AuditStatus(**STATUS)


def test_a_silent_window_has_no_status_and_may_have_no_system():
    line = v2(error="kernel not answering for 2.0 s", system=None)
    line["status"] = dict.fromkeys(STATUS)
    line["window"].update(samples=0, failures=10, backlog_peak=None, lost_per_s=None)
    (window,) = read_recording_of(line)
    assert window.status is None and window.system is None
    assert window.error == "kernel not answering for 2.0 s"
    assert window.backlog_peak is None and window.lost_per_s is None


def test_a_system_part_of_the_wrong_shape_is_unknown_not_fatal():
    line = copy.deepcopy(V1)
    line["system"].update(rmem_default="big", auditd=[1], auditd_conf={"flush": "sync"},
                          boot=None, multicast_readers=[{"portid": "x"}])
    (window,) = read_recording_of(line)
    system = window.system
    assert system.rmem_default is None and system.auditd is None and system.config is None
    assert system.multicast_readers == () and system.rmem_max == 4194304


@pytest.mark.parametrize("bad, why", [
    ("{not json", "not JSON"),
    ("[1, 2, 3]", "not a JSON object"),
    ('{"time": 1.0}', 'no "window" object'),
    (dict(V1, time="noon"), "time is not a number"),
    (dict(V1, time=None), "time is not a number"),
    (dict(V1, window={**V1["window"], "lost": -5}), "window.lost is not a count"),
    (dict(V1, window={**V1["window"], "seconds": None}), "window.seconds"),
    (dict(V1, window={**V1["window"], "lost_per_s": -1.0}), "negative"),
    (dict(V1, status={**STATUS, "backlog": "65"}), "status.backlog is not a count"),
    (dict(V1, status=[1]), "status is not an object"),
    (dict(V1, findings="none"), "findings is not a list"),
    (dict(V1, version="2"), "version"),
    (dict(V1, version=0), "version"),
    ('{"time": NaN, "window": {"seconds": 1}}', "NaN"),
    ("[" * 100_000, "not JSON"),
])
def test_a_damaged_line_is_reported_and_skipped(tmp_path, bad, why):
    path = write(tmp_path, V1, bad, v2())
    result = read_recording(path)
    assert [w.line_no for w in result.windows] == [1, 3]
    (problem,) = result.problems
    assert problem.startswith("line 2: ") and why in problem


def test_a_bad_finding_is_skipped_and_the_window_kept(tmp_path):
    line = dict(V1, findings=[FINDING, {**FINDING, "severity": "dire"}, "x"])
    result = read_recording(write(tmp_path, line))
    (window,) = result.windows
    assert window.findings == (Finding(**FINDING),)
    assert [p.split(":")[0] for p in result.problems] == ["line 1", "line 1"]
    assert "finding 2 skipped" in result.problems[0]


def test_a_truncated_last_line(tmp_path):
    full = json.dumps(v2())
    path = write(tmp_path, V1, V1, full[: len(full) // 2], end="")
    result = read_recording(path)
    assert len(result.windows) == 2
    assert result.problems == ("line 3: cut short (the recorder stopped while writing it)",)


def test_blank_lines_crlf_and_a_bom_are_fine(tmp_path):
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(V1).encode() + b"\r\n\r\n  \n"
                     + json.dumps(v2()).encode() + b"\r\n")
    result = read_recording(path)
    assert [w.line_no for w in result.windows] == [1, 4] and result.problems == ()


def test_a_newer_version_is_reported_per_line_and_skipped(tmp_path):
    result = read_recording(write(tmp_path, V1, v2(version=3), v2()))
    assert [w.version for w in result.windows] == [1, 2]
    assert result.problems == (
        "line 2: format version 3 is newer than this auditop reads (up to 2): skipped",)


def test_an_overlong_line_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(recording, "MAX_LINE", 4096)
    long_line = v2(padding="x" * 10_000)
    result = read_recording(write(tmp_path, V1, long_line, v2()))
    assert [w.line_no for w in result.windows] == [1, 3]
    assert result.problems[0].startswith("line 2: longer than")


@pytest.mark.parametrize("content, why", [
    (b"", "the file is empty"),
    (b"\n  \n\n", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary data"),
    (b"\xff\xfe\xfd garbage\n", "binary data"),
    (b'[{"time": 1}, {"time": 2}]\n', "not a JSON object"),
    (json.dumps(SYSTEM, indent=2).encode(), "not JSON"),
    (b'{"rmem_default": 212992}\n{"other": true}\n', 'no "window" object'),
    ((json.dumps({k: v for k, v in V1.items() if k != "window"}) + "\n").encode(),
     "status --json"),
    ((json.dumps(v2(version=7)) + "\n").encode() * 3, "newer auditop (format version 7"),
    (b"time,backlog\n1,2\n", "not JSON"),
])
def test_not_a_recording(tmp_path, content, why):
    path = tmp_path / "file"
    path.write_bytes(content)
    message = refusal(path)
    assert ": not an auditop recording: " in message and why in message


def test_a_missing_file_or_a_directory_is_not_a_recording(tmp_path):
    assert "cannot read it" in refusal(tmp_path / "nothing.jsonl")
    assert "cannot read it" in refusal(tmp_path)


def test_a_large_file_of_something_else_is_given_up_early(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"Dec  1 12:00:00 host kernel: audit: backlog limit exceeded\n" * 200_000)
    started = time.perf_counter()
    assert "no line is a window (line 1: not JSON" in refusal(path)
    assert time.perf_counter() - started < 1.0  # stopped after the first PROBE_LINES lines


def test_the_writers_own_lines_read_back(tmp_path):
    """Lines written by auditop's recorder (History -> window_object) from
    the demo simulator: a stall with losses, then recovery."""
    from auditop.core.findings import evaluate
    from auditop.core.history import History
    from auditop.export.json import window_object
    from auditop.sources.demo import DemoSource

    now = [0.0]
    source = DemoSource(clock=lambda: now[0], wall_clock=lambda: 1_750_000_000.0)
    history, lines, windows = History(1.0), [], []
    for step in range(120):
        now[0] = step / 10
        if step == 30:
            source.stop_auditd()
            source.flood(True)
        if step == 60:
            source.flood(False)
            source.resume_auditd()
        window = history.add(source.poll())
        if window is not None:
            windows.append(window)
            lines.append(window_object(window, evaluate(history)))
    result = read_recording(write(tmp_path, *lines))
    assert result.problems == () and len(result.windows) == len(windows) >= 10
    for read, wrote in zip(result.windows, windows):
        assert read.status == wrote.status
        assert (read.backlog_peak, read.lost) == (wrote.backlog_peak, wrote.lost)
        assert read.lost_per_s == pytest.approx(wrote.lost_per_s)
        assert read.system.auditd.state == wrote.last.system.auditd.state
    assert max(w.backlog_peak for w in result.windows) == 65
    assert any(f.id == "lost-increasing" for w in result.windows for f in w.findings)


def test_streams_and_shares_what_repeats(tmp_path):
    lines = []
    for i in range(5_000):
        line = v2(time=1_750_000_000.0 + i)
        line["status"] = {**STATUS, "lost": 412000 + (i // 100)}
        lines.append(line)
    path = write(tmp_path, *lines)
    size = (tmp_path / "rec.jsonl").stat().st_size
    tracemalloc.start()
    started = time.perf_counter()
    result = read_recording(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(result.windows) == 5_000 and result.problems == ()
    assert peak < size / 3  # the text is never held whole
    assert elapsed < 5.0  # 86 400 lines of the recorder's own output take ~3 s
    first, second = result.windows[:2]
    assert first.system is second.system and first.findings is second.findings
    assert first.status is second.status


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise_anything_else(tmp_path, content):
    path = tmp_path / "fuzz"
    path.write_bytes(content)
    try:
        result = read_recording(path)
    except NotARecording as refused:
        assert "\n" not in str(refused)
    else:
        assert result.windows


VALID = (json.dumps(V1) + "\n" + json.dumps(v2()) + "\n").encode()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(VALID)), insert=st.binary(max_size=40),
       at=st.integers(0, len(VALID)))
def test_damaged_recordings_never_raise_anything_else(tmp_path, cut, insert, at):
    content = VALID[:at] + insert + VALID[at:cut] if at < cut else VALID[:cut] + insert
    path = tmp_path / "fuzz"
    path.write_bytes(content)
    try:
        result = read_recording(path)
    except NotARecording:
        return
    assert 1 <= len(result.windows) <= 2
    assert all(p.startswith("line ") for p in result.problems)


def test_imports_neither_textual_nor_pyroute2():
    code = "import sys, auditop.sources.recording; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert not {name.split(".")[0] for name in out.split()} & {"textual", "pyroute2", "plotext"}


def test_records_printed_to_the_kernel_log_are_read_back_into_the_replayed_window():
    from auditop.sources.replay_index import as_window
    line = v2()
    line["window"]["records_printed"] = 37
    (window,) = read_recording_of(line)
    assert window.records_printed == 37
    assert as_window(window).records_printed == 37
    del line["window"]["records_printed"]  # written before the field existed
    (older,) = read_recording_of(line)
    assert older.records_printed is None and as_window(older).records_printed == 0
