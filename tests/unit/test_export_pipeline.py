"""The JSON and text of settings changed underneath auditop and of auditd's
state report (docs/json.md)."""

from __future__ import annotations

import json

from auditop.core.history import History
from auditop.core.findings import evaluate
from auditop.export.json import status_object, window_object
from auditop.export.text import status_text
from auditop.sources.scripted import EPOCH, samples


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
