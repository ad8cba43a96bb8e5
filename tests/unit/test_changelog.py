"""The change log: who it names (the real uid and the login uid, never
$USER), and `auditop set` when it cannot be written (the kernel changed all
the same: said as made, with one warning line, exit 0)."""

from __future__ import annotations

import json
import os
import pwd

import pytest

from auditop import changelog, cli
from auditop.commands import sampling
from auditop.changelog import ChangeLogUnwritable, append_change
from auditop.core.errors import NotPrivileged
from auditop.sources.scripted import ScriptedSource, healthy


@pytest.fixture
def state(tmp_path, monkeypatch):
    """The state directory the test gives, via XDG_STATE_HOME."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def point(path):
        monkeypatch.setenv("XDG_STATE_HOME", str(path))
        return path
    return point


@pytest.fixture
def kernel(monkeypatch):
    """`auditop set` talks to a scripted kernel (healthy: backlog_limit 8192)."""
    source = ScriptedSource(healthy())
    monkeypatch.setattr(sampling, "live_source", lambda **_: source)
    return source


@pytest.fixture
def loginuid(tmp_path, monkeypatch):
    def write(text: str | None):
        path = tmp_path / "loginuid"
        if text is not None:
            path.write_text(text)
        monkeypatch.setattr(changelog, "LOGINUID", path)
    return write


# -- auditop set with a change log it cannot write ------------------------------------

def _unwritable_state_dir(tmp_path, state, how):
    if how == "state home is a file":
        state(tmp_path / "file").write_text("")
        return tmp_path / "file" / "auditop", "Not a directory"
    # The log's own path is a directory: refused to root too (read-only modes are not).
    (state(tmp_path / "state") / "auditop" / "changes.jsonl").mkdir(parents=True)
    return tmp_path / "state" / "auditop" / "changes.jsonl", "Is a directory"


@pytest.mark.parametrize("how", ["state home is a file", "log path is a directory"])
def test_set_reports_the_change_made_and_warns_in_one_line(tmp_path, state, kernel, capsys,
                                                           how):
    where, reason = _unwritable_state_dir(tmp_path, state, how)
    assert cli.main(["set", "backlog_limit", "16384", "--yes"]) == 0
    out, err = capsys.readouterr()
    assert kernel.writes == [("backlog_limit", 16384)]
    assert "backlog_limit: 8192 -> 16384 (read back from the kernel)" in out
    assert "internal error" not in out + err
    assert err == f"auditop: warning: the change log could not be written: {where}: {reason}\n"


def test_a_refused_set_says_why_and_that_the_log_missed_it(tmp_path, state, monkeypatch,
                                                           capsys):
    _unwritable_state_dir(tmp_path, state, "state home is a file")
    source = ScriptedSource(healthy(), set_error=NotPrivileged())
    monkeypatch.setattr(sampling, "live_source", lambda **_: source)
    assert cli.main(["set", "backlog_limit", "16384", "--yes"]) == NotPrivileged.exit_code
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["auditop: warning: the change log could not be written: "
                     f"{tmp_path / 'file' / 'auditop'}: Not a directory",
                     f"auditop: {NotPrivileged()}"]


def test_set_logs_where_it_can(tmp_path, state, kernel, capsys):
    state(tmp_path / "state")
    assert cli.main(["set", "backlog_limit", "16384", "--yes"]) == 0
    assert capsys.readouterr().err == ""
    (entry,) = [json.loads(line) for line in
                (tmp_path / "state" / "auditop" / "changes.jsonl").read_text().splitlines()]
    assert (entry["field"], entry["old"], entry["new"], entry["result"]) == (
        "backlog_limit", 8192, 16384, "ok")


def test_a_full_disk_is_one_line_with_the_path():
    with pytest.raises(ChangeLogUnwritable) as caught:
        append_change("backlog_limit", 1, 2, "ok", path=changelog.Path("/dev/full"))
    assert str(caught.value) == "/dev/full: No space left on device"
    assert isinstance(caught.value, OSError)  # what the TUI catches


# -- who ------------------------------------------------------------------------------

def test_the_user_is_the_real_uid_not_the_environment(tmp_path, loginuid, monkeypatch):
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    loginuid("4294967295")  # unset: a service started at boot
    append_change("backlog_limit", 1, 2, "ok", path=tmp_path / "log")
    entry = json.loads((tmp_path / "log").read_text())
    uid = os.getuid()
    assert entry["user"] == pwd.getpwuid(uid).pw_name != "mallory"
    assert entry["uid"] == uid
    assert entry["loginuid"] is None and entry["login_user"] is None


def _uid_without_entry() -> int:
    return next(uid for uid in range(54321, 60000) if uid not in
                {p.pw_uid for p in pwd.getpwall()})


@pytest.mark.parametrize("text, expected", [
    ("0", (0, "root")),  # su / sudo from a root login
    ("4294967295\n", (None, None)),  # unset
    ("garbage", (None, None)),
    (None, (None, None)),  # no such file: a kernel without audit
])
def test_the_login_uid_is_recorded_with_its_name(loginuid, text, expected):
    loginuid(text)
    who = changelog.who()
    assert (who["loginuid"], who["login_user"]) == expected


def test_a_uid_without_a_name_is_written_as_its_number(loginuid, monkeypatch):
    stranger = _uid_without_entry()
    loginuid(str(stranger))
    monkeypatch.setattr(os, "getuid", lambda: stranger)
    assert changelog.who() == {"user": str(stranger), "uid": stranger,
                               "login_user": str(stranger), "loginuid": stranger}
