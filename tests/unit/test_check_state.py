"""`auditop check` between runs: the previous run's counters against this
one's (losses, a wrapped or reset counter, a reboot, auditd restarted), the
state file (atomic, damaged, unwritable) and the line and perfdata."""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop import cli
from auditop.commands import sampling
from auditop.core.findings import DEFAULT, evaluate
from auditop.core.history import History
from auditop.export import checkstate
from auditop.export.check import CRITICAL, OK, WARNING, check_line, parse_ids
from auditop.export.checkstate import (AUDITD_RESTARTED, COUNTER_RESET, LOST_SINCE, REBOOTED,
                                       U32, Between, CheckState, ago_text,
                                       between_runs, compare, from_json, load, reading, save,
                                       to_json)
from auditop.sources.scripted import AUDITD_PID, EPOCH, ScriptedSource
from tests.unit.builders import feed, make_sample

BOOT = "6b1c0c2e-6d4e-4f0e-9a53-0f5b4c1d2e3f"
OTHER_BOOT = "0f0f0f0f-1111-2222-3333-444444444444"
T0 = EPOCH - 252.0  # the last check, 4 min 12 s before the scripted samples


def state(lost=100, *, time=T0, boot_id=BOOT, pid=AUDITD_PID, start=EPOCH - 3600.0):
    return CheckState(time=time, lost=lost, boot_id=boot_id, auditd_pid=pid,
                      auditd_start=start)


def ids(between: Between) -> list[str]:
    return [e.id for e in between.events]


def window_of(lost=100, **status):
    history = History(interval=float("inf"))
    feed(history, [make_sample(i / 10, lost=lost, **status) for i in range(10)])
    return history.flush(), history


def line_for(between: Between, overrides=None, **status):
    window, history = window_of(**status)
    return check_line(window, evaluate(history), DEFAULT, overrides, between)


# -- what happened between two runs (pure) ------------------------------------------------

def test_a_first_run_says_nothing_about_between_runs():
    assert compare(None, state()) == Between()
    with_nothing = line_for(Between())
    assert with_nothing == line_for(None)  # the same line as without state at all
    assert "since the last check" not in with_nothing[1]
    assert "lost_since_last_check" not in with_nothing[1]


def test_records_lost_between_runs_are_critical_with_the_span():
    between = compare(state(100), state(350, time=EPOCH))
    assert ids(between) == [LOST_SINCE] and between.lost == 250 and between.span == 252.0
    assert between.events[0].text == "250 records lost since the last check 4 min 12 s ago"
    code, line = line_for(between)  # the window itself lost nothing
    assert code == CRITICAL
    assert line.startswith("AUDIT CRITICAL - 250 records lost since the last check "
                           "4 min 12 s ago | ")
    perf = line.split(" | ")[1].split()
    assert "lost_since_last_check=250;;0;0" in perf and "last_check_age=252.0s" in perf


def test_nothing_lost_between_runs_is_ok_and_says_zero():
    between = compare(state(100), state(100, time=EPOCH))
    assert ids(between) == [] and between.lost == 0
    code, line = line_for(between)
    assert code == OK and "since the last check" not in line.split(" | ")[0]
    assert "lost_since_last_check=0;;0;0" in line


def test_one_record_is_singular():
    assert compare(state(7), state(8)).events[0].text.startswith("1 record lost since")


def test_losses_in_the_window_and_between_runs_are_both_named_findings_first():
    between = compare(state(0), state(9))
    window_lost = [make_sample(i / 10, lost=i) for i in range(10)]
    history = History(interval=float("inf"))
    feed(history, window_lost)
    code, line = check_line(history.flush(), evaluate(history), DEFAULT, None, between)
    summary = line.split(" | ")[0]
    assert code == CRITICAL
    assert summary.index("Audit records are being lost") < summary.index(
        "9 records lost since the last check")


@pytest.mark.parametrize("before, now, lost", [
    (U32 - 1, 0, 1), (U32 - 10, 5, 15), (U32 - 2**30, 0, 2**30), (2**31, 0, 2**31),
])
def test_a_wrap_past_2_32_is_a_loss_not_a_reset(before, now, lost):
    between = compare(state(before), state(now, time=EPOCH))
    assert ids(between) == [LOST_SINCE] and between.lost == lost
    assert "wrapped past 2^32" in between.events[0].text
    assert line_for(between)[0] == CRITICAL


# core.history.u32_wrap_growth: a wrap only from the upper half, by at most 2**31
@pytest.mark.parametrize("before, now", [(1000, 0), (2**31, 5), (2**31 - 1, 0),
                                         (U32 - 1, 2**31)])
def test_a_decrease_far_from_2_32_is_a_reset(before, now):
    between = compare(state(before), state(now, time=EPOCH))
    assert COUNTER_RESET in ids(between)
    reset = next(e for e in between.events if e.id == COUNTER_RESET)
    assert f"({before} -> {now}: someone ran auditctl --reset-lost)" in reset.text
    assert between.lost == now


def test_a_reset_alone_is_a_warning_and_losses_after_it_critical():
    code, line = line_for(compare(state(1000), state(0, time=EPOCH)))
    assert code == WARNING
    assert line.startswith("AUDIT WARNING - the lost counter went down since the last "
                           "check 4 min 12 s ago (1000 -> 0: someone ran auditctl "
                           "--reset-lost); losses before the reset are not counted")
    code, line = line_for(compare(state(1000), state(7, time=EPOCH)))
    assert code == CRITICAL
    assert line.startswith("AUDIT CRITICAL - at least 7 records lost since the last check "
                           "4 min 12 s ago (counted from the reset); the lost counter "
                           "went down")


def test_a_reboot_is_named_not_a_reset_and_not_an_auditd_restart():
    between = compare(state(1000), state(0, time=EPOCH, boot_id=OTHER_BOOT, pid=999,
                                         start=EPOCH - 60))
    assert ids(between) == [REBOOTED] and between.lost == 0
    code, line = line_for(between)
    assert code == OK
    assert line.startswith("AUDIT OK - audit backlog healthy; the machine rebooted since "
                           "the last check 4 min 12 s ago: what was lost before the "
                           "reboot is unknown | ")


def test_losses_since_a_reboot_are_critical():
    between = compare(state(1000), state(12, time=EPOCH, boot_id=OTHER_BOOT))
    assert ids(between) == [LOST_SINCE, REBOOTED] and between.lost == 12
    code, line = line_for(between)
    assert code == CRITICAL and ("at least 12 records lost since the last check 4 min 12 s "
                                 "ago (counted from the reboot)") in line


def test_an_unknown_boot_id_makes_a_decrease_a_reset_or_a_reboot():
    between = compare(state(1000, boot_id=None), state(0, boot_id=None))
    assert ids(between) == [COUNTER_RESET]
    assert "auditctl --reset-lost, or a reboot: the boot id is unknown" in between.events[0].text
    # Unknown on one side only: the same.
    assert ids(compare(state(1000), state(0, boot_id=None))) == [COUNTER_RESET]


@pytest.mark.parametrize("before, now, said", [
    ((812, EPOCH - 3600), (1290, EPOCH - 30), "pid 812 -> 1290"),
    ((812, EPOCH - 3600), (812, EPOCH - 30), "pid 812 reused by a new auditd"),
    ((812, None), (1290, None), "pid 812 -> 1290"),
])
def test_auditd_restarted_between_runs_is_a_warning(before, now, said):
    between = compare(state(pid=before[0], start=before[1]),
                      state(time=EPOCH, pid=now[0], start=now[1]))
    assert ids(between) == [AUDITD_RESTARTED]
    assert between.events[0].text == (f"auditd restarted since the last check 4 min 12 s "
                                      f"ago ({said})")
    assert line_for(between)[0] == WARNING


@pytest.mark.parametrize("before, now", [
    ((812, EPOCH - 3600), (812, EPOCH - 3599)),  # start time rounding
    ((812, None), (812, EPOCH)),  # start unknown before
    ((0, None), (812, EPOCH)),  # started: a recovery
    ((812, EPOCH - 3600), (0, None)),  # stopped: the live finding auditd-not-running
])
def test_no_restart_is_reported_otherwise(before, now):
    assert compare(state(pid=before[0], start=before[1]),
                   state(pid=now[0], start=now[1])).events == ()


def test_the_weight_flags_reweigh_between_run_events():
    assert parse_ids("auditd-restarted,lost-since-last-check,rebooted,lost-counter-reset") == (
        AUDITD_RESTARTED, LOST_SINCE, REBOOTED, COUNTER_RESET)
    restarted = compare(state(pid=812), state(time=EPOCH, pid=1290))
    code, line = line_for(restarted, {AUDITD_RESTARTED: "ok"})
    assert code == OK and "auditd restarted since the last check" in line  # still named
    lost = compare(state(0), state(5))
    assert line_for(lost, {LOST_SINCE: "warning"})[0] == WARNING
    rebooted = compare(state(0), state(0, boot_id=OTHER_BOOT))
    assert line_for(rebooted, {REBOOTED: "critical"})[0] == CRITICAL


def test_the_reading_is_the_window_end_with_auditds_start():
    window, _ = window_of(lost=42)
    now = reading(window, BOOT)
    assert now == CheckState(time=window.end, lost=42, boot_id=BOOT, auditd_pid=AUDITD_PID,
                             auditd_start=window.system.auditd.start_time)
    other, _ = window_of(pid=4242)  # the kernel names a pid that is not the process seen
    assert reading(other, None).auditd_start is None
    silent = replace(window, status=None)
    assert reading(silent, BOOT) is None


@pytest.mark.parametrize("seconds, text", [
    (252, "4 min 12 s ago"), (12.4, "12 s ago"), (0.4, "0.4 s ago"), (3, "3 s ago"),
    (60, "1 min ago"), (7380, "2 h 3 min ago"), (3600, "1 h ago"), (90000, "1 d 1 h ago"),
    (86400 * 3, "3 d ago"), (-300, "(dated 5 min ahead of the clock now)"),
])
def test_spans_read_like_a_person_says_them(seconds, text):
    assert ago_text(seconds) == text


# -- the state file ---------------------------------------------------------------------

states = st.builds(CheckState, time=st.floats(0, 4e9, allow_nan=False),
                   lost=st.integers(0, U32 - 1),
                   boot_id=st.none() | st.text(max_size=40),
                   auditd_pid=st.none() | st.integers(0, 2**22),
                   auditd_start=st.none() | st.floats(0, 4e9, allow_nan=False))


@given(states)
def test_a_state_survives_its_file(kept):
    assert from_json(to_json(kept)) == kept


GOOD = json.loads(to_json(state()))


@pytest.mark.parametrize("text, reason", [
    ("{", "not JSON"), ("[]", "not a JSON object"), ("", "not JSON"),
    (json.dumps({**GOOD, "version": 99}), "version 99"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "lost"}), "no 'lost'"),
    (json.dumps({**GOOD, "lost": -1}), "'lost' is '-1'"),
    (json.dumps({**GOOD, "lost": U32}), "'lost' is"),
    (json.dumps({**GOOD, "lost": 1.5}), "'lost' is"),
    (json.dumps({**GOOD, "time": True}), "'time' is"),
    (json.dumps({**GOOD, "auditd_pid": "812"}), "'auditd_pid' is"),
])
def test_a_damaged_state_is_refused_with_its_reason(text, reason):
    with pytest.raises(checkstate.BadState, match=re.escape(reason)):
        from_json(text)


def test_save_then_load_leaves_one_file(tmp_path):
    path = tmp_path / "deep" / "check.json"
    assert save(path, state()) is None
    assert load(path) == (state(), None)
    assert os.listdir(path.parent) == ["check.json"]  # the temporary file is gone
    assert path.stat().st_mode & 0o077 == 0  # the user's own


def test_a_missing_file_is_a_first_run(tmp_path):
    assert load(tmp_path / "none.json") == (None, None)


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "damaged (not JSON"), (b"\xff\xfe", "damaged (not UTF-8)"),
    (b" " * (checkstate.MAX_STATE_BYTES + 1), "damaged (over 65536 bytes)"),
])
def test_a_damaged_file_is_no_state_with_a_note(tmp_path, content, reason):
    path = tmp_path / "check.json"
    path.write_bytes(content)
    previous, note = load(path)
    assert previous is None and note.startswith(f"state file {path} {reason}")
    assert note.endswith(": ignored") and "\n" not in note


def test_an_unreadable_file_is_no_state_with_a_note(tmp_path):
    (tmp_path / "check.json").mkdir()
    previous, note = load(tmp_path / "check.json")
    assert previous is None and note == (f"state file {tmp_path / 'check.json'} unreadable "
                                         "(Is a directory): ignored")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "check.json"
    save(path, state(1))

    def read_only(*_):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(checkstate.os, "replace", read_only)
    note = save(path, state(2))
    assert note == (f"state not saved to {path} (Read-only file system): the next check "
                    "compares with an older run")
    assert load(path)[0] == state(1) and os.listdir(tmp_path) == ["check.json"]


def test_a_directory_that_cannot_be_made_is_a_note(tmp_path):
    (tmp_path / "file").write_text("")
    note = save(tmp_path / "file" / "auditop" / "check.json", state())
    assert note.startswith(f"state not saved to {tmp_path / 'file' / 'auditop' / 'check.json'} "
                           "(Not a directory)")


def test_between_runs_loads_compares_and_saves(tmp_path):
    boot = tmp_path / "boot_id"
    boot.write_text(BOOT + "\n")
    path = tmp_path / "check.json"
    window, _ = window_of(lost=100)
    assert between_runs(window, path, str(boot)) == Between()  # first run
    later, _ = window_of(lost=130)
    later = replace(later, end=window.end + 61)
    between = between_runs(later, path, str(boot))
    assert ids(between) == [LOST_SINCE] and between.lost == 30 and between.span == 61
    assert between.events[0].text == "30 records lost since the last check 1 min 1 s ago"
    assert load(path)[0].lost == 130 and load(path)[0].boot_id == BOOT


def test_a_damaged_file_is_said_in_the_line_and_rewritten(tmp_path):
    path = tmp_path / "check.json"
    path.write_text("{garbage\n|second line")
    window, history = window_of()
    between = between_runs(window, path, str(tmp_path / "no-boot-id"))
    assert between.events == () and between.lost is None
    assert between.notes == (f"state file {path} damaged (not JSON: Expecting property name "
                             "enclosed in double quotes at line 1): ignored, rewritten",)
    code, line = check_line(window, evaluate(history), DEFAULT, None, between)
    assert code == OK and line.count("\n") == 0 and line.count(" | ") == 1
    assert line.split(" | ")[0].endswith("ignored, rewritten")
    assert load(path)[0] is not None


def test_an_unwritable_state_still_answers_with_a_note(tmp_path):
    (tmp_path / "file").write_text("")
    window, history = window_of()
    between = between_runs(window, tmp_path / "file" / "check.json")
    assert between.notes == (f"state not saved to {tmp_path / 'file' / 'check.json'} "
                             "(Not a directory): the next check compares with an older run",)
    code, line = check_line(window, evaluate(history), DEFAULT, None, between)
    assert code == OK and line.split(" | ")[0].endswith("compares with an older run")


def test_notes_cannot_break_the_line():
    assert checkstate.one_line("a\nb | c\r\n") == "a b / c"


# -- the command ------------------------------------------------------------------------

@pytest.fixture
def kernel(monkeypatch):
    """check samples a scripted kernel whose lost counter is `lost`."""
    def use(lost: int):
        source = ScriptedSource([make_sample(0.0, lost=lost)])
        monkeypatch.setattr(sampling, "live_source", lambda **_: source)
    return use


def run_check(capsys, *argv):
    code = cli.main(["check", "--window", "0.2", *argv])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return code, out.strip()


def test_check_keeps_state_between_runs(tmp_path, kernel, capsys):
    path = tmp_path / "state" / "check.json"
    kernel(100)
    code, first = run_check(capsys, "--state-file", str(path))
    assert code == OK and "last_check_age" not in first and "since the last check" not in first
    assert load(path)[0].lost == 100
    kernel(160)
    code, second = run_check(capsys, "--state-file", str(path))
    assert code == CRITICAL
    assert re.match(r"AUDIT CRITICAL - 60 records lost since the last check [0-9.]+ s ago \| ",
                    second), second
    assert "lost_since_last_check=60;;0;0" in second and "last_check_age=" in second
    code, third = run_check(capsys, "--state-file", str(path))
    assert code == OK and "lost_since_last_check=0;;0;0" in third


def test_check_uses_the_state_directory_by_default(tmp_path, kernel, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    kernel(5)
    assert run_check(capsys)[0] == OK
    assert load(tmp_path / "xdg" / "auditop" / "check.json")[0].lost == 5


def test_no_state_reads_and_writes_nothing(tmp_path, kernel, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    kernel(5)
    code, line = run_check(capsys, "--no-state")
    assert code == OK and "lost_since_last_check" not in line
    assert not (tmp_path / "xdg").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--no-state", "--state-file", "x.json"], "not allowed with argument"),
    (["--state-file", ""], "not a file path"),
    (["--state-file", "/tmp/dir/"], "not a file path"),
])
def test_contradicting_state_flags_are_unknown_exit_3(capsys, argv, needle):
    code, line = run_check(capsys, *argv)
    assert code == 3 and line.startswith("AUDIT UNKNOWN - usage: ") and needle in line


def test_a_damaged_state_file_keeps_the_exit_code(tmp_path, kernel, capsys):
    path = tmp_path / "check.json"
    path.write_text("not json")
    kernel(5)
    code, line = run_check(capsys, "--state-file", str(path))
    assert code == OK and f"state file {path} damaged (not JSON" in line
    assert load(path)[0].lost == 5


@given(st.integers(0, U32 - 1), st.integers(0, U32 - 1))
def test_the_count_between_runs_of_one_boot_is_never_negative(before, now):
    between = compare(state(before), state(now, time=EPOCH))
    assert between.lost >= 0
    if now >= before:
        assert between.lost == now - before and COUNTER_RESET not in ids(between)
    else:
        assert between.lost in (now, now + U32 - before)
    assert (LOST_SINCE in ids(between)) == (between.lost > 0)
