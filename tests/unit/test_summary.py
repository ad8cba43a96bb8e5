"""`auditop summary FILE`: the incidents in a recording (export/summary.py),
the command (commands/summary.py) and what it needs of the reader
(sources/recording.py: `-` for stdin, `setting_changes` read back)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop import cli
from auditop.core.history import U32_SPAN
from auditop.export.summary import (MERGE_GAP, Summary, stretches, summarize, summary_object,
                                    summary_text)
from auditop.sources.recording import read_recording
from tests.unit.test_recording import FINDING, STATUS, v2

AUDITOP = [sys.executable, "-m", "auditop"]
T0 = 1_795_329_000.0
LIMIT_SMALL = {"id": "backlog-limit-small", "severity": "warning",
               "title": "Backlog limit is small", "detail": "...", "remedy": "auditctl -b 8192"}
ENRICHED = {"id": "log-format-enriched", "severity": "info", "title": "enriched",
            "detail": "...", "remedy": None}
BACKLOG_HIGH = {"id": "backlog-high", "severity": "warning", "title": "Backlog is filling up",
                "detail": "...", "remedy": None}
CHANGED = {"id": "setting-changed", "severity": "warning", "title": "A setting changed",
           "detail": "...", "remedy": None}
BY = {"time": T0 + 4.95, "serial": 61766, "field": "backlog_limit", "new": 100, "old": 64,
      "res": 1, "auid": 1000, "ses": 3, "pid": 14356, "ppid": 14177, "uid": 0,
      "comm": "auditctl", "exe": "/usr/sbin/auditctl", "command": "auditctl -b 100"}
CHANGE = {"field": "backlog_limit", "old": 64, "new": 100, "time": T0 + 5.0,
          "after": T0 + 4.9, "by": BY}


def line(n: int, *, findings=(LIMIT_SMALL, ENRICHED), lost: int | None = 0, peak: int = 3,
         limit: int = 64, status_lost: int | None = None, causes=None, producers=None,
         changes=(), at: float | None = None, seconds: float = 1.0) -> dict:
    """Window n of a recording: one a second from T0, quiet unless told."""
    out = v2(time=T0 + n if at is None else at, findings=list(findings),
             status=dict(STATUS, backlog_limit=limit,
                         lost=1000 * n if status_lost is None else status_lost),
             setting_changes=[copy.deepcopy(c) for c in changes], producers=producers)
    out["window"].update(seconds=seconds, backlog_peak=peak, lost=lost,
                         lost_per_s=float(lost or 0), loss_causes=causes or {})
    if lost is None:
        del out["window"]["lost"]
    return out


def losing(n: int, lost: int = 100, peak: int = 65, **kw) -> dict:
    """A window of an overflow: records lost (lost-increasing, critical)."""
    return line(n, findings=(FINDING, LIMIT_SMALL, ENRICHED), lost=lost, peak=peak, **kw)


def said(text: str) -> str:
    """The text with its line breaks and indents as single blanks."""
    return " ".join(text.split())


def write(tmp_path, lines, name="rec.jsonl"):
    path = tmp_path / name
    path.write_text("".join((json.dumps(item) if isinstance(item, dict) else item) + "\n"
                            for item in lines))
    return path


def summary_of(tmp_path, lines) -> Summary:
    return summarize(read_recording(write(tmp_path, lines)).windows)


def producers(by_key: dict[str, int], by_comm: dict[str, int]) -> dict:
    total = sum(by_key.values())

    def entries(counts):
        return [{"name": k, "records": v, "per_s": float(v), "share": v / total}
                for k, v in counts.items()]
    return {"source": "kernel", "records": total, "sampled": 1.0, "by_key": entries(by_key),
            "by_type": entries({"SYSCALL": total}), "by_comm": entries(by_comm)}


# -- grouping --------------------------------------------------------------------------

@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60),
       st.integers(min_value=0, max_value=3))
def test_incidents_are_ordered_apart_and_cover_every_flagged_window(items, gap):
    """Items are (flagged, adjacent to the one before); each is its index."""
    flagged = [f for f, _ in items]
    joined = [j for _, j in items]
    runs = list(stretches(range(len(items)), flagged.__getitem__,
                          lambda a, b: joined[b], gap))
    covered = [i for run in runs for i in run]
    assert covered == sorted(set(covered))  # ordered, never overlapping
    assert {i for i, f in enumerate(flagged) if f} <= set(covered)  # every flagged one
    for run in runs:
        assert run == list(range(run[0], run[-1] + 1))  # contiguous
        assert flagged[run[0]] and flagged[run[-1]]  # from trouble to trouble
        assert all(joined[i] for i in run[1:])  # no hole inside
        quiet = 0
        for i in run:
            quiet = 0 if flagged[i] else quiet + 1
            assert quiet <= gap
    for before, after in zip(runs, runs[1:]):  # apart: a long quiet stretch or a hole
        between = range(before[-1] + 1, after[0])
        assert len(between) > gap or not all(joined[i] for i in range(before[-1] + 1,
                                                                       after[0] + 1))


def test_one_quiet_window_is_merged_and_two_split(tmp_path):
    assert MERGE_GAP == 1
    lines = [line(0), losing(1), line(2), losing(3), line(4), line(5), losing(6), line(7)]
    found = summary_of(tmp_path, lines)
    assert [(i.start, i.end, i.windows) for i in found.incidents] == [
        (T0, T0 + 3, 3), (T0 + 5, T0 + 6, 1)]
    assert [i.lost for i in found.incidents] == [200, 100]


def test_a_hole_in_the_recording_splits_an_incident(tmp_path):
    """The recorder stopped and appended to the same file an hour later."""
    found = summary_of(tmp_path, [losing(1), losing(2), losing(3602), losing(3603)])
    assert [(i.start, i.end) for i in found.incidents] == [(T0, T0 + 2), (T0 + 3601, T0 + 3603)]


def test_configuration_risks_and_a_kept_setting_change_make_no_incident(tmp_path):
    """backlog-limit-small holds all day on a stock machine; setting-changed
    stays in every line for 5 minutes after a change: neither is trouble."""
    lines = [line(n, findings=(LIMIT_SMALL, CHANGED, ENRICHED), changes=[CHANGE])
             for n in range(6)]
    found = summary_of(tmp_path, lines)
    assert found.incidents == ()
    assert [(c.field, c.old, c.new, c.by.comm) for c in found.other_changes] == [
        ("backlog_limit", 64, 100, "auditctl")]
    text = summary_text(found, "quiet.jsonl")
    assert text.splitlines()[:2] == [
        f"quiet.jsonl: {stamp(T0 - 1)} to {clock(T0 + 5)} (6 s)", "6 windows of 1 s; no incidents"]
    assert "setting changes outside the incidents:" in text
    assert f"backlog_limit changed 64 -> 100 at {clock(T0 + 5)} by auditctl (pid 14356, " \
           "auid 1000)" in said(text)


def stamp(epoch: float) -> str:
    from auditop.core.text import stamp_text
    return stamp_text(epoch)


def clock(epoch: float) -> str:
    from auditop.core.text import clock_text
    return clock_text(epoch)


def test_a_warning_of_live_trouble_makes_an_incident(tmp_path):
    found = summary_of(tmp_path, [line(0), line(1, findings=(BACKLOG_HIGH, LIMIT_SMALL),
                                                 peak=40), line(2), line(3)])
    (incident,) = found.incidents
    assert (incident.severity, incident.backlog_peak, incident.lost) == ("warning", 40, 0)
    assert [(h.id, h.severity) for h in incident.findings] == [("backlog-high", "warning")]
    assert [h.id for h in incident.noted] == ["backlog-limit-small"]


# -- what an incident says -------------------------------------------------------------

def test_peak_against_the_limit_in_force_then(tmp_path):
    """The limit was raised during the incident: the peak is told against
    the limit of its own window."""
    found = summary_of(tmp_path, [losing(1, limit=64), losing(2, limit=8192, peak=900)])
    (incident,) = found.incidents
    assert (incident.backlog_peak, incident.backlog_limit) == (900, 8192)
    found = summary_of(tmp_path, [losing(1, limit=64), losing(2, limit=8192, peak=30)])
    assert (found.incidents[0].backlog_peak, found.incidents[0].backlog_limit) == (65, 64)
    assert "backlog peak 65 of backlog_limit 64 (102%)" in summary_text(found, "f")


def test_lost_without_window_lost_is_the_counter_growth_across_a_u32_wrap(tmp_path):
    top = U32_SPAN - 100
    lines = [line(0, lost=None, status_lost=top - 50),
             losing(1, lost=None, status_lost=top), losing(2, lost=None, status_lost=46)]
    (incident,) = summary_of(tmp_path, lines).incidents
    assert (incident.lost, incident.lost_complete) == (50 + 146, True)


def test_a_counter_reset_leaves_the_loss_at_least(tmp_path):
    lines = [line(0, lost=None, status_lost=5000),
             losing(1, lost=None, status_lost=5200), losing(2, lost=None, status_lost=30)]
    found = summary_of(tmp_path, lines)
    (incident,) = found.incidents
    assert (incident.lost, incident.lost_complete) == (200, False)
    assert "at least 200 records lost" in summary_text(found, "f")


def test_loss_causes_and_producers_are_summed_over_the_incident(tmp_path):
    lines = [losing(1, causes={"backlog-limit": 5},
                    producers=producers({"backup_watch": 900, "(none)": 100, "other": 50},
                                        {"tar": 900, "sshd": 150})),
             losing(2, causes={"backlog-limit": 5, "rate-limit": 2},
                    producers=producers({"backup_watch": 700, "logins": 300},
                                        {"tar": 700, "sshd": 300})),
             losing(3)]  # not counted in this window
    found = summary_of(tmp_path, lines)
    (incident,) = found.incidents
    assert incident.loss_causes == (("backlog-limit", 10), ("rate-limit", 2))
    assert incident.producer_records == 2050
    assert [(p.name, p.records) for p in incident.producers["by_key"]] == [
        ("backup_watch", 1600), ("logins", 300)]  # never "(none)" nor "other"
    assert [(p.name, p.records) for p in incident.producers["by_comm"]] == [
        ("tar", 1600), ("sshd", 450)]
    text = summary_text(found, "f")
    assert ("the kernel said: backlog limit exceeded (10 messages), rate limit exceeded "
            "(2 messages)") in said(text)
    assert "producers: key backup_watch 78%, logins 15%; comm tar 78%, sshd 22%" in text


def test_without_producers_the_text_says_how_to_count_them(tmp_path):
    found = summary_of(tmp_path, [losing(1)])
    assert found.incidents[0].producers is None
    assert "producers: not counted (record with --producers)" in summary_text(found, "f")


def test_a_setting_change_is_told_once_in_its_incident_with_who_made_it(tmp_path):
    """A change is in every line for 5 minutes; `by` arrives a moment later."""
    unnamed = dict(CHANGE, by=None)
    lines = [line(0), losing(4), losing(5, changes=[unnamed]), losing(6, changes=[CHANGE]),
             line(7, changes=[CHANGE]), line(8, changes=[CHANGE]), line(9, changes=[CHANGE])]
    found = summary_of(tmp_path, lines)
    (incident,) = found.incidents
    assert [(c.field, c.old, c.new, c.by.command) for c in incident.changes] == [
        ("backlog_limit", 64, 100, "auditctl -b 100")]
    assert found.other_changes == ()
    text = summary_text(found, "f")
    assert text.count("backlog_limit changed 64 -> 100") == 1


def test_the_text_fits_80_columns_and_names_the_file_and_span(tmp_path):
    long = {**FINDING, "id": "lost-increasing"}
    lines = [line(0)] + [line(n, findings=(long, BACKLOG_HIGH, LIMIT_SMALL, CHANGED, ENRICHED),
                              lost=10 ** 9, peak=65, causes={c: 3 for c in (
                                  "backlog-limit", "rate-limit", "hold-queue", "retry-queue",
                                  "printk-limit", "auditd-gone")}, changes=[CHANGE])
                         for n in range(1, 4)]
    name = "/var/tmp/recordings/a-rather-long-recording-name-of-a-day.jsonl"
    text = summary_text(summary_of(tmp_path, lines), name)
    assert all(len(row) <= 80 for row in text.splitlines()), text
    assert text.startswith(name)
    assert "(9 messages)" in text  # never broken inside parentheses
    assert "(pid 14356, auid 1000)" in text
    assert "1 incident\n" in text and "3000000000 records lost" in text


def test_a_recording_across_days_dates_its_times(tmp_path):
    day = 86_400
    found = summary_of(tmp_path, [losing(1), line(2), losing(day + 1), line(day + 2)])
    text = summary_text(found, "f")
    assert f"1. {stamp(T0)} to {stamp(T0 + 1)} (1 s), critical" in text
    assert f"2. {stamp(T0 + day)} to {stamp(T0 + day + 1)} (1 s), critical" in text
    assert text.startswith(f"f: {stamp(T0)} to {stamp(T0 + day + 2)} (1 d)")


def test_control_characters_from_the_file_never_reach_the_terminal(tmp_path):
    evil = "\x1b]0;owned\x07tar"
    found = summary_of(tmp_path, [losing(1, producers=producers({"k": 10}, {evil: 10}))])
    text = summary_text(found, "f")
    assert "\x1b" not in text and "\x07" not in text
    assert "comm \\x1b]0;owned\\x07tar 100%" in text


# -- JSON ------------------------------------------------------------------------------

def test_json_shape(tmp_path):
    change = dict(CHANGE, time=T0 + 0.5, after=T0 + 0.4)
    lines = [line(0), losing(1, causes={"backlog-limit": 5}, changes=[change],
                             producers=producers({"k": 10}, {"c": 10})), line(2), line(3)]
    document = summary_object(summary_of(tmp_path, lines), "rec.jsonl")
    assert json.loads(json.dumps(document)) == document
    assert document.keys() == {"file", "start", "end", "seconds", "windows", "window_seconds",
                               "merge_gap_windows", "incidents", "other_setting_changes"}
    assert (document["file"], document["windows"], document["window_seconds"]) == (
        "rec.jsonl", 4, 1.0)
    (incident,) = document["incidents"]
    assert incident.keys() == {"start", "end", "seconds", "windows", "severity",
                               "backlog_peak", "backlog_limit", "lost", "lost_complete",
                               "loss_causes", "findings", "noted", "producers",
                               "setting_changes"}
    assert (incident["start"], incident["end"], incident["lost"]) == (T0, T0 + 1, 100)
    assert incident["loss_causes"] == {"backlog-limit": 5}
    assert incident["findings"] == [{"id": "lost-increasing", "severity": "critical",
                                     "windows": 1}]
    assert incident["noted"] == [{"id": "backlog-limit-small", "severity": "warning",
                                  "windows": 1}]
    assert incident["producers"] == {"records": 10, "by_key": [
        {"name": "k", "records": 10, "share": 1.0}], "by_comm": [
        {"name": "c", "records": 10, "share": 1.0}]}
    assert incident["setting_changes"] == [change]  # the shape `record` writes
    assert document["other_setting_changes"] == []


# -- the reader: stdin and setting changes ------------------------------------------------

def test_a_setting_change_that_is_not_one_is_skipped_alone(tmp_path):
    bad = [dict(CHANGE, old="64"), dict(CHANGE, by=dict(BY, pid=-1)), "x"]
    read = read_recording(write(tmp_path, [line(0, changes=[CHANGE, *bad]), line(1)]))
    assert [len(w.setting_changes) for w in read.windows] == [1, 0]
    assert len(read.problems) == 3 and read.skipped == 0
    assert read.problems[0].startswith("line 1: setting change 2 skipped: not a change")


def test_a_line_without_setting_changes_reads_as_none(tmp_path):
    old = line(0)
    del old["setting_changes"]
    assert read_recording(write(tmp_path, [old])).windows[0].setting_changes is None


# -- the command -------------------------------------------------------------------------

def run(argv, **kwargs) -> tuple[int, str, str]:
    env = {**os.environ, "XDG_CONFIG_HOME": kwargs.pop("config_home", "/nonexistent")}
    done = subprocess.run(AUDITOP + argv, capture_output=True, text=True, timeout=30,
                          env=env, **kwargs)
    return done.returncode, done.stdout, done.stderr


def test_stdin_is_read_with_a_dash(tmp_path):
    path = write(tmp_path, [line(0), losing(1), line(2), "{not json"])
    code, out, err = run(["summary", "-", "--json"], input=path.read_text())
    assert code == 0
    document = json.loads(out)
    assert document["file"] == "stdin" and len(document["incidents"]) == 1
    assert err == "auditop: stdin: line 4: not JSON (Expecting property name enclosed in " \
                  "double quotes, column 2) (skipped)\n"


def test_a_missing_file_is_one_line_and_exit_2(tmp_path):
    code, out, err = run(["summary", str(tmp_path / "nope.jsonl")])
    assert (code, out) == (2, "")
    assert err == f"auditop: {tmp_path / 'nope.jsonl'}: cannot read it: No such file or " \
                  "directory\n"


@pytest.mark.parametrize("content, why", [
    ("hello\n", "no line is a window (line 1: not JSON (Expecting value, column 1))"),
    ("", "the file is empty"),
])
def test_a_broken_file_is_one_line_and_exit_2(tmp_path, content, why):
    path = tmp_path / "broken.jsonl"
    path.write_text(content)
    code, out, err = run(["summary", str(path)])
    assert (code, out) == (2, "")
    assert err == f"auditop: {path}: not an auditop recording: {why}\n"
    code, out, err = run(["summary", "-", "--json"], input=content)
    assert (code, out, err) == (2, "", f"auditop: stdin: not an auditop recording: {why}\n")


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    path = write(tmp_path, [losing(n) if n % 3 else line(n) for n in range(3000)])
    shell = f"{' '.join(AUDITOP)} summary {path} | head -1"
    done = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith(str(path)) and done.stdout.count("\n") == 1
    assert done.stderr == ""


def test_the_demo_recording_through_the_cli(tmp_path, monkeypatch, capsys):
    """`record --demo` then `summary`: the tour's first scene, auditd stopped
    under a flood, is one critical incident with its losses, the kernel's
    reason and its culprit; the quiet after it is none. The scene's times
    are quartered (the tour is real time)."""
    from auditop.sources import demo_actions
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    overflow, resumed = demo_actions.TOUR[:2]
    assert "flood" in overflow.says and "resumed" in resumed.says
    monkeypatch.setattr(demo_actions, "TOUR", tuple(
        dataclasses.replace(step, at=step.at / 4) for step in (overflow, resumed)))
    path = tmp_path / "tour.jsonl"
    assert cli.main(["record", "--demo", "--duration", "4", "--interval", "0.5",
                     "-o", str(path)]) == 0
    capsys.readouterr()
    recorded = [json.loads(row) for row in path.read_text().splitlines()]
    lost = sum(row["window"]["lost"] for row in recorded)
    assert lost > 0

    assert cli.main(["summary", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (incident,) = document["incidents"]
    assert incident["severity"] == "critical"
    assert incident["lost"] == lost and incident["lost_complete"]
    assert incident["backlog_peak"] > incident["backlog_limit"] == 64
    assert "backlog-limit" in incident["loss_causes"]
    assert {"lost-increasing", "auditd-stopped"} <= {f["id"] for f in incident["findings"]}
    assert incident["producers"]["by_key"][0]["name"] == "backup_watch"
    assert incident["producers"]["by_comm"][0]["name"] == "tar"
    assert incident["end"] < document["end"]  # the drained backlog after it: quiet

    assert cli.main(["summary", str(path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{path}:") and "; 1 incident\n" in text
    assert f"{lost} records lost" in text and "the kernel said: backlog limit exceeded" in text
    assert "producers: key backup_watch" in text
    assert all(len(row) <= 80 for row in text.splitlines())


def test_summary_imports_neither_textual_nor_pyroute2_nor_the_kernel(tmp_path):
    """A recording is summed up anywhere: no terminal UI, no kernel client."""
    path = write(tmp_path, [line(0), losing(1)])
    code = ("import sys\nfrom auditop import cli\n"
            f"assert cli.main(['summary', {str(path)!r}]) == 0\n"
            "print('MODULES', ' '.join(sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=60).stdout
    loaded = set(out.split("MODULES", 1)[1].split())
    assert "1 incident" in out
    assert not {name.split(".")[0] for name in loaded} & {"textual", "pyroute2", "rich"}
    assert not loaded & {"auditop.kernel", "auditop.sources.live", "auditop.tui"}


@pytest.mark.parametrize("command", [["plot", "--width", "1000", "--height", "1000"], ["summary"]])
def test_any_command_whose_reader_stops_early_ends_quietly(tmp_path, command):
    """`| head` on any command (cli.main): exit 1, nothing on stderr, no
    'internal error' (plot said one before)."""
    path = write(tmp_path, [losing(n) if n % 3 else line(n) for n in range(3000)])
    shell = f"{' '.join(AUDITOP)} {command[0]} {path} {' '.join(command[1:])} | head -c 1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True,
                          text=True, timeout=60)
    assert done.stderr == "" and len(done.stdout) == 1
    assert done.returncode in (0, 1)  # 0 when the whole output fit the pipe first
