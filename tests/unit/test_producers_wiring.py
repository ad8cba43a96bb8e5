"""Issue 16, phase 2: who produced a window's records flows from the source
through History and the Monitor to the JSON, and a recording gives it back."""

from __future__ import annotations

import json

import pytest

from auditop.core.feed import Snapshot
from auditop.core.history import History
from auditop.core.monitor import Monitor
from auditop.core.producers import ProducerCounts, WindowProducers
from auditop.export.json import status_object, window_object
from auditop.sources.recording import read_recording
from auditop.sources.replay_index import as_window
from auditop.sources.scripted import ScriptedSource
from tests.unit.builders import feed, make_sample, ticks


def syscall(serial: int, key: str, comm: str, exe: str) -> bytes:
    return (f'audit(1733600000.000:{serial}): arch=c000003e syscall=257 success=yes '
            f'exit=3 a0=ffffff9c items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 '
            f'fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="{comm}" '
            f'exe="{exe}" subj=unconfined key="{key}"').encode()


def producers(backup: int = 30, other: int = 10, seconds: float = 1.0) -> WindowProducers:
    """`backup` events of 5 records by tar under backup_watch, `other` by sshd."""
    counts, serial = ProducerCounts(), 0
    for n, key, comm, exe in ((backup, "backup_watch", "tar", "/usr/bin/tar"),
                              (other, "logins", "sshd", "/usr/sbin/sshd")):
        for _ in range(n):
            serial += 1
            counts.add(1300, syscall(serial, key, comm, exe))
            for mtype in (1307, 1302, 1327):
                counts.add(mtype, f"audit(1733600000.000:{serial}): x".encode())
            counts.add(1320, f"audit(1733600000.000:{serial}): ".encode())
    return counts.window(seconds, rules={"backup_watch": ("-a always,exit -F dir=/srv/backup "
                                                          "-F perm=wa -k backup_watch",)})


def test_a_closing_window_asks_the_source_once_for_its_producers():
    history, asked = History(1.0), []

    def drained():
        asked.append(1)
        return producers()
    history.producers = drained
    windows = feed(history, [make_sample(t) for t in ticks(0.0, 3.05)])
    assert len(windows) == 3 and len(asked) == 3
    assert all(w.producers.top("by_key").name == "backup_watch" for w in windows)


def test_without_a_counting_source_windows_have_none():
    windows = feed(History(1.0), [make_sample(t) for t in ticks(0.0, 2.05)])
    assert windows and all(w.producers is None for w in windows)


def test_the_monitor_asks_a_source_that_counts():
    source = ScriptedSource([make_sample(0.0)])
    source.producers = producers  # what LiveSource.producers() and the simulator do
    monitor = Monitor(source, interval=1.0)
    snapshot = monitor.add([make_sample(t) for t in ticks(0.0, 2.05)])
    assert snapshot.producers.top("by_comm").name == "tar"
    monitor.restart()  # a fresh History keeps asking
    snapshot = monitor.add([make_sample(t) for t in ticks(10.0, 12.05)])
    assert snapshot.producers is not None


def test_the_snapshot_shows_the_last_window_that_counted_any_with_its_age():
    history = History(1.0)
    answers = iter([producers(), WindowProducers("kernel", 0.0, 0, 1.0, listened=0.0),
                    WindowProducers("kernel", 0.0, 0, 1.0, listened=0.0)])
    history.producers = lambda: next(answers)
    windows = feed(history, [make_sample(t) for t in ticks(0.0, 3.05)])
    snapshot = Snapshot(seq=1, windows=tuple(windows), latest=None, last_answered=None,
                        system=None, findings=(), silent_for=0.0, interval=1.0,
                        sample_rate=10.0, found=None, forecast=None)
    assert snapshot.producers is windows[0].producers
    assert snapshot.producers_age == pytest.approx(2.0)


def test_status_json_and_record_lines_carry_producers_in_the_issue_shape():
    history = History(1.0)
    history.producers = producers
    window = feed(history, [make_sample(t) for t in ticks(0.0, 1.05)])[0]
    for line in (status_object(window, ()), window_object(window, ())):
        got = line["producers"]
        assert got["source"] == "kernel" and got["records"] == 200 and got["sampled"] == 1.0
        assert got["by_key"][0] == {"name": "backup_watch", "records": 150,
                                    "per_s": 150.0, "share": 0.75}
        assert got["by_rule"][0]["name"].endswith("-k backup_watch")
        assert {"by_key", "by_type", "by_syscall", "by_comm", "by_exe", "by_auid",
                "by_rule", "missed", "listened"} <= set(got)
    history.producers = None
    bare = feed(history, [make_sample(t) for t in ticks(1.1, 2.15)])[0]
    assert window_object(bare, ())["producers"] is None


def test_a_recording_gives_back_what_was_recorded(tmp_path):
    history = History(1.0)
    history.producers = producers
    windows = feed(history, [make_sample(t) for t in ticks(0.0, 2.05)])
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps(window_object(w, ())) + "\n" for w in windows))
    recording = read_recording(path)
    assert not recording.problems
    back = recording.windows[0].producers
    assert back.as_json() == windows[0].producers.as_json()
    assert as_window(recording.windows[0]).producers == back  # replay shows it


@pytest.mark.parametrize("bad, why", [
    ("[]", "producers is not an object"),
    ('{"records": 5}', "producers.source"),
    ('{"source": "kernel", "records": -1}', "producers.records is not a count"),
    ('{"source": "kernel", "records": 5, "by_key": {}}', "producers.by_key is not a list"),
    ('{"source": "kernel", "records": 5, "by_key": [{"name": "a", "records": 5, '
     '"per_s": 1.0, "share": 2}]}', "producers.by_key.share is not a share"),
    ('{"source": "kernel", "records": 5, "by_comm": [{"name": 3}]}', "not a producer"),
    ('{"source": "kernel", "records": 5, "sampled": "all"}', "producers.sampled"),
])
def test_a_damaged_producers_object_skips_its_line_and_counts_it(tmp_path, bad, why):
    history = History(1.0)
    history.producers = producers
    window = feed(history, [make_sample(t) for t in ticks(0.0, 1.05)])[0]
    good = json.dumps(window_object(window, ()))
    damaged = good.replace(json.dumps(window_object(window, ())["producers"]), bad)
    assert damaged != good
    path = tmp_path / "rec.jsonl"
    path.write_text(good + "\n" + damaged + "\n")
    recording = read_recording(path)
    assert len(recording.windows) == 1 and recording.skipped == 1
    assert why in recording.problems[0]


# -- the finding ------------------------------------------------------------------

def _findings(backup: int, other: int, **status):
    from auditop.core.findings import evaluate
    history = History(1.0)
    history.producers = lambda: producers(backup=backup, other=other)
    lost = status.pop("lost", 0)
    feed(history, [make_sample(t, lost=lost + int(t * 100), **status)
                   for t in ticks(0.0, 2.05)])
    return {f.id: f for f in evaluate(history)}


def test_one_producer_dominating_while_records_are_lost_is_named_with_advice():
    found = _findings(93, 7)["one-producer-dominates"]
    assert found.severity == "warning"
    assert found.title == "One rule fills the queue: rule key backup_watch (93% of the records)"
    assert "-F dir=/srv/backup -F perm=wa -k backup_watch" in found.detail
    assert "tar (/usr/bin/tar) produced 93%" in found.detail
    assert "aureport --summary -k" in found.detail and "auditop changes no rule" in found.detail
    assert found.remedy.startswith("auditctl -A never,exit -F exe=/usr/bin/tar")


def test_no_finding_when_nothing_is_lost_or_no_one_dominates():
    from auditop.core.findings import evaluate
    history = History(1.0)
    history.producers = producers
    feed(history, [make_sample(t) for t in ticks(0.0, 2.05)])  # nothing lost, backlog low
    assert "one-producer-dominates" not in {f.id for f in evaluate(history)}
    assert "one-producer-dominates" not in _findings(50, 50)  # 50/50: nobody dominates
