"""The headless commands against the real kernel, as a user runs them."""

from __future__ import annotations

import json

import pytest

from auditop.core.model import STATUS_FIELDS
from tests.kernel.conftest import run_auditop

# Counters that may move between auditop's read and auditctl's.
MOVING = {"lost", "backlog", "backlog_wait_time_actual"}


def test_status_json_agrees_with_auditctl(kernel_lock, auditctl):
    result = run_auditop("status", "--json", "--window", "0.3")
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)["status"]
    theirs = auditctl()
    assert set(ours) == set(STATUS_FIELDS)
    for name, value in theirs.items():
        if name not in ours:
            continue  # loginuid_immutable comes from AUDIT_GET_FEATURE
        if name in MOVING:
            assert abs(ours[name] - value) <= 1000, name
        else:
            assert ours[name] == value, name
    assert {"enabled", "failure", "pid", "backlog_limit"} <= set(theirs)


def test_status_json_has_the_documented_shape(kernel_lock):
    data = json.loads(run_auditop("status", "--json", "--window", "0.3").stdout)
    assert set(data) >= {"time", "status", "system", "findings"}
    system = data["system"]
    assert isinstance(system["rmem_default"], int) and isinstance(system["rmem_max"], int)
    assert system["auditd"] is None or set(system["auditd"]) >= {
        "pid", "state", "netlink_rmem", "netlink_drops"}
    for finding in data["findings"]:
        assert set(finding) == {"id", "severity", "title", "detail", "remedy"}
        assert finding["severity"] in ("info", "warning", "critical")
    with open("/proc/sys/net/core/rmem_default") as f:
        assert system["rmem_default"] == int(f.read())


def test_status_text_is_readable(kernel_lock):
    result = run_auditop("status", "--window", "0.3")
    assert result.returncode == 0, result.stderr
    assert "backlog" in result.stdout and "findings:" in result.stdout


def test_check_follows_the_plugin_convention(kernel_lock, kernel_status):
    result = run_auditop("check", "--window", "0.3")
    assert result.returncode in (0, 1, 2), result.stdout + result.stderr
    line = result.stdout.strip()
    assert line.count("\n") == 0
    state = {0: "OK", 1: "WARNING", 2: "CRITICAL"}[result.returncode]
    assert line.startswith(f"AUDIT {state} - ")
    assert f"backlog_limit={kernel_status.backlog_limit}" in line.split("|")[1]


def test_set_backlog_limit_changes_the_kernel_and_is_restored(client):
    before = client.get_status().backlog_limit
    target = before * 2 if before else 128
    result = run_auditop("set", "backlog_limit", str(target))
    assert result.returncode == 0, result.stderr
    assert f"{before} -> {target}" in result.stdout
    assert "memory:" in result.stdout
    assert client.get_status().backlog_limit == target
    # the `client` fixture restores the value; check it can
    assert run_auditop("set", "backlog_limit", str(before)).returncode == 0
    assert client.get_status().backlog_limit == before


def test_set_with_an_unwritable_change_log_reports_the_change_made(client, tmp_path,
                                                                   monkeypatch):
    """The kernel changes before the log is written: the change is said as
    made, read back, with one warning line naming the log; exit 0."""
    before = client.get_status().backlog_limit
    target = before * 2 if before else 128
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "file"))  # no directory below a file
    result = run_auditop("set", "backlog_limit", str(target), "--yes")
    assert result.returncode == 0, result.stderr
    assert f"backlog_limit: {before} -> {target} (read back from the kernel)" in result.stdout
    assert result.stderr == ("auditop: warning: the change log could not be written: "
                             f"{tmp_path / 'file' / 'auditop'}: Not a directory\n")
    assert client.get_status().backlog_limit == target  # the `client` fixture restores it


@pytest.mark.parametrize("args", [
    ("backlog_limit", "-5"),
    ("backlog_limit", "0"),
    ("backlog_limit", "lots"),
    ("backlog_limit", str(2**32)),
    ("rate_limit", "1e3"),
    ("backlog_wait_time", str(10 * 60 * 1000 + 1)),
    ("failure", "2"),
    ("enabled", "2"),
])
def test_bad_input_is_one_line_exit_2_and_the_kernel_is_unchanged(client, args):
    before = client.get_status()
    result = run_auditop("set", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("auditop: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert client.get_status() == before


def test_record_writes_one_line_per_window(kernel_lock, tmp_path):
    out = tmp_path / "rec.jsonl"
    result = run_auditop("record", "--output", str(out), "--duration", "2.2",
                         "--interval", "0.5", "--sample-rate", "20")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 4 <= len(lines) <= 6
    for line in lines:
        assert set(line) >= {"time", "status", "system", "findings", "window"}
        assert line["window"]["samples"] >= 1
        assert line["status"]["backlog_limit"] is not None
    times = [line["time"] for line in lines]
    assert times == sorted(times)
    # 20 Hz for 0.5 s windows: about ten samples each (not the last, partial one)
    assert all(6 <= line["window"]["samples"] <= 11 for line in lines[:-1])


@pytest.mark.parametrize("args", [
    ("status",), ("status", "--json"), ("check",), ("set", "backlog_limit", "128"),
    ("record", "--duration", "1"),
])
def test_without_cap_audit_control_every_command_says_what_it_needs(
        kernel_lock, kernel_status, args, tmp_path):
    if args[0] == "record":
        args = (*args, "--output", str(tmp_path / "never.jsonl"))
    result = run_auditop(*args, drop_audit_control=True)
    text = result.stdout + result.stderr
    assert result.returncode != 0
    assert "CAP_AUDIT_CONTROL" in text and "root" in text
    assert "Traceback" not in text
    assert len(text.strip().splitlines()) == 1
    if args[0] == "check":
        assert result.returncode == 3 and text.startswith("AUDIT UNKNOWN")
    if args[0] == "record":
        assert not (tmp_path / "never.jsonl").exists()
