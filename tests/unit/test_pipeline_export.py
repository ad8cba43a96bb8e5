"""What `status`, `status --json` and `record` say of auditd's real buffer,
the loss causes and the waits; recordings read them back."""

from __future__ import annotations

import json
from dataclasses import replace

from auditop.core.findings import evaluate
from auditop.core.history import History
from auditop.core.memory import LARGEST_RECORD_BYTES, TYPICAL_RECORD_BYTES, backlog_memory
from auditop.export.json import status_object, window_object
from auditop.export.text import status_text
from auditop.sources.recording import read_recording
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
