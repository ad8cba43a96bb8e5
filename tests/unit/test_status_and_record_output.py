"""What `status` (text and JSON) and `record` lines say, and what a
recording reads back: auditd's real socket buffer, HZ, the loss causes and
the waits; settings changed underneath auditop and who changed them;
auditd's state report (docs/json.md)."""

from __future__ import annotations

import json
from dataclasses import replace

from auditop.core.findings import evaluate
from auditop.core.history import History
from auditop.core.memory import LARGEST_RECORD_BYTES, TYPICAL_RECORD_BYTES, backlog_memory
from auditop.export.json import status_object, window_object
from auditop.export.text import status_text
from auditop.sources.recording import read_recording
from auditop.sources.scripted import EPOCH, samples
from tests.unit.builders import HEALTHY_SYSTEM, feed, make_sample, with_buffers


BACKLOG = (("backlog-limit", 2),)


def one_window(sample_list):
    history = History(interval=float("inf"))
    feed(history, sample_list)
    window = history.flush()
    return window, evaluate(history)


def stall(system=with_buffers(212992, 212992)):
    out = [make_sample(i / 10, lost=500 * i, backlog=65, backlog_limit=64, system=system,
                       backlog_wait_time=15000, backlog_wait_time_actual=250 * i)
           for i in range(10)]
    out[3] = replace(out[3], loss_causes=BACKLOG, loss_suppressed=4400)
    return out


def test_json_has_auditds_real_buffer_hz_and_the_loss_causes():
    window, found = one_window(stall())
    line = json.loads(json.dumps(status_object(window, found)))
    auditd = line["system"]["auditd"]
    assert auditd["netlink_rcvbuf"] == 212992 and auditd["netlink_rmem"] == 0
    assert line["system"]["hz"] == 250
    assert line["system"]["sock_diag_error"] is None
    assert line["system"]["kernel_log_error"] is None
    assert line["window"]["loss_causes"] == {"backlog-limit": 2}
    assert line["window"]["loss_suppressed"] == 4400
    assert line["status"]["backlog_wait_time"] == 15000  # raw jiffies stay raw
    lost = next(f for f in line["findings"] if f["id"] == "lost-increasing")
    assert "lost: backlog limit exceeded" in lost["detail"]


def test_json_without_sock_diag_has_a_null_buffer_and_the_reason():
    system = with_buffers(212992, None, sock_diag_error="no netlink sock_diag here")
    window, found = one_window(stall(system))
    line = window_object(window, found)
    assert line["system"]["auditd"]["netlink_rcvbuf"] is None
    assert line["system"]["sock_diag_error"] == "no netlink sock_diag here"
    assert line["window"]["loss_causes"] == {"backlog-limit": 2}


def test_status_text_gives_seconds_the_buffer_and_the_cause():
    window, found = one_window(stall())
    text = status_text(window, found)
    assert "backlog_wait_time 15000 jiffies (60 s at HZ 250)" in text
    assert "waited 2250 jiffies (9 s at HZ 250) in all" in text
    assert "auditd socket buffer 208 KiB, queue 0 B" in text
    assert "lost: backlog limit exceeded (kernel log, 2 messages, not records)" in text


def test_status_text_says_when_the_buffer_is_unknown_and_the_log_unreadable():
    system = with_buffers(212992, None, sock_diag_error="no netlink sock_diag here",
                          kernel_log_error="no kernel log device here")
    window, found = one_window(stall(system))
    text = status_text(window, found)
    assert "auditd socket buffer ?" in text
    assert "auditd's real buffer unknown: no netlink sock_diag here" in text
    assert "kernel log  no kernel log device here" in text


def test_a_recording_keeps_the_buffer_and_the_causes(tmp_path):
    window, found = one_window(stall())
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(window_object(window, found)) + "\n")
    (got,) = read_recording(path).windows
    assert got.loss_causes == BACKLOG and got.loss_suppressed == 4400
    assert got.system.auditd_socket.rcvbuf == 212992 and got.system.hz == 250


def test_an_older_line_without_them_reads_as_unknown(tmp_path):
    window, found = one_window([make_sample(0.0), make_sample(0.5)])
    line = window_object(window, found)
    del line["window"]["loss_causes"], line["window"]["loss_suppressed"]
    del line["system"]["auditd"]["netlink_rcvbuf"], line["system"]["hz"]
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (got,) = read_recording(path).windows
    assert got.loss_causes is None and got.loss_suppressed is None
    assert got.system.auditd_socket.rcvbuf is None and got.system.hz is None


def test_a_damaged_loss_causes_is_reported(tmp_path):
    window, found = one_window([make_sample(0.0), make_sample(0.5)])
    line = window_object(window, found)
    line["window"]["loss_causes"] = {"backlog-limit": -1}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(line) + "\n" + json.dumps(window_object(window, found)) + "\n")
    recording = read_recording(path)
    assert len(recording.windows) == 1
    assert "window.loss_causes is not counts by cause" in recording.problems[0]


def test_memory_per_record_is_the_2k_bucket_and_the_sk_buff():
    assert TYPICAL_RECORD_BYTES == 2048 + 256 and LARGEST_RECORD_BYTES == 16384 + 256
    assert backlog_memory(8192) == (8192 * 2304, 8192 * 16640)
    assert HEALTHY_SYSTEM.hz == 250


# -- settings changed underneath auditop, auditd's state report ----------------------


def drift_window(seconds: float = 42):
    history = History(interval=1.0)
    window = None
    for sample in samples("drift", seconds):
        window = history.add(sample) or window
    return window, tuple(evaluate(history)), history.setting_changes()


def test_record_line_keeps_the_change_and_who_did_it():
    window, findings, changes = drift_window()
    line = json.loads(json.dumps(window_object(window, findings, changes)))
    (change,) = line["setting_changes"]
    assert {k: change[k] for k in ("field", "old", "new")} == {
        "field": "backlog_limit", "old": 8192, "new": 100}
    assert change["time"] == EPOCH + 40.0 and change["after"] == EPOCH + 39.9
    assert change["by"]["comm"] == "auditctl" and change["by"]["pid"] == 14356
    assert change["by"]["command"] == "auditctl -b 100" and change["by"]["serial"] == 61766
    assert "setting-changed" in {f["id"] for f in line["findings"]}
    assert line["system"]["auditd_log"] == {"path": "/var/log/audit/audit.log",
                                            "unavailable": None}


def test_state_report_in_the_json_with_its_age():
    window, findings, changes = drift_window()
    state = status_object(window, findings, changes)["system"]["auditd_state"]
    assert state["path"] == "/run/audit/auditd.state"
    assert state["plugin_queue_depth"] == 1200 and state["plugin_queue_size"] == 2000
    assert state["mtime"] == EPOCH + 40.0
    assert state["age"] == round(window.end - state["mtime"], 3)
    assert state["extra"] == {} and state["damaged"] == []
    json.dumps(state)


def test_no_change_no_report():
    history = History()
    window = None
    for sample in samples("healthy", 3):
        window = history.add(sample) or window
    line = window_object(window, evaluate(history), history.setting_changes())
    assert line["setting_changes"] == []
    assert line["system"]["auditd_state"] is None and line["system"]["auditd_log"] is None


def test_status_text_rows():
    window, findings, changes = drift_window()
    text = status_text(window, list(findings), changes=changes,
                       state_request="asked auditd (pid 812) for a state report (SIGCONT)")
    assert "plugins     queue 1200 / 2000 (60%), max used 1500, report" in text
    assert "report      asked auditd (pid 812) for a state report (SIGCONT)" in text
    assert "setting     backlog_limit changed 8192 -> 100 at " in text
    assert "by auditctl (pid 14356, auid 1000)" in text
    history, window = History(), None
    for sample in samples("healthy", 3):
        window = history.add(sample) or window
    assert ("plugins     no fresh state report (--auditd-state asks auditd for one)"
            in status_text(window, []))
