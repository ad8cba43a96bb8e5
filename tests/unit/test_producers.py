"""Counting producers (core/producers.py) from recorded record streams.

tests/unit/fixtures/producers-two-keys.txt.gz is a real stream, captured by
the multicast listener in the lab (`python -m tests.benchmarks.producers_bench
--capture ...`): the listener's own bind (key=(null)), then 60 opens by a
process named `alpha-writer` under rule key `auditop-capture-alpha` and 20
by `beta-reader` under `auditop-capture-beta`, each open one event of
SYSCALL, CWD, PATH, PROCTITLE and EOE records.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from auditop.core import producers as p
from auditop.core.producers import (NO_KEY, NONE, OTHER, ProducerCounts, WindowProducers,
                                    choose_every, parse_syscall, ranked, raw_fields, rule_for)

FIXTURE = Path(__file__).parent / "fixtures" / "producers-two-keys.txt.gz"
ALPHA, BETA = "auditop-capture-alpha", "auditop-capture-beta"


def stream() -> list[tuple[int, bytes]]:
    records = []
    with gzip.open(FIXTURE, "rt") as f:
        for line in f:
            if line.startswith("#"):
                continue
            mtype, _, text = line.rstrip("\n").partition("\t")
            records.append((int(mtype), text.encode()))
    return records


def counted(records, every: int = 1, seconds: float = 2.0, **options) -> WindowProducers:
    counts = ProducerCounts(every=every)
    counts.add_many(records)
    return counts.window(seconds, **options)


def entry(window: WindowProducers, dimension: str, name: str):
    return next(e for e in getattr(window, dimension) if e.name == name)


def test_the_fixture_is_what_it_says():
    records = stream()
    types = [t for t, _ in records]
    assert types.count(1300) == 81 and len(records) == 404


def test_every_record_is_attributed_to_its_event_key_and_process():
    window = counted(stream())
    assert window.records == 404 and window.sampled == 1.0
    assert entry(window, "by_key", ALPHA).records == 60 * 5
    assert entry(window, "by_key", BETA).records == 20 * 5
    assert window.top("by_key").name == ALPHA
    assert window.top("by_comm").name == "alpha-writer"
    assert entry(window, "by_comm", "beta-reader").records == 100
    assert entry(window, "by_syscall", "257").records == 400  # no name table given
    assert entry(window, "by_exe", "/root/.pyenv/versions/3.11.7/bin/python3.11").records == 404
    assert entry(window, "by_auid", "unset").records == 404
    assert entry(window, "by_key", NO_KEY).records == 4  # the listener's own bind()


def test_types_are_counted_from_the_headers_and_lists_add_up():
    window = counted(stream())
    by_type = {e.name: e.records for e in window.by_type}
    assert by_type == {"SYSCALL": 81, "PATH": 80, "CWD": 80, "EOE": 81, "PROCTITLE": 81,
                       "SOCKADDR": 1}
    for dimension in p.DIMENSIONS:
        entries = getattr(window, dimension)
        assert sum(e.records for e in entries) == window.records, dimension
        assert [e.records for e in entries] == sorted((e.records for e in entries), reverse=True)
        assert sum(e.share for e in entries) == pytest.approx(1.0)


def test_per_s_and_share():
    window = counted(stream(), seconds=2.0)
    alpha = entry(window, "by_key", ALPHA)
    assert alpha.per_s == 150.0 and alpha.share == pytest.approx(300 / 404)
    assert window.per_s == 202.0


@pytest.mark.parametrize("every", [2, 3, 4])
def test_sampling_parses_one_in_n_and_scales(every):
    records = stream() * 20  # 1620 events: enough for the estimate to settle
    window = counted(records, every=every)
    assert window.sampled == pytest.approx(1 / every, abs=0.01)
    # Types stay exact whatever the sampling.
    assert entry(window, "by_type", "SYSCALL").records == 81 * 20
    alpha, beta = entry(window, "by_key", ALPHA).records, entry(window, "by_key", BETA).records
    assert alpha / beta == pytest.approx(3.0, rel=0.2)
    assert alpha + beta == pytest.approx(400 * 20, rel=0.1)
    assert window.top("by_comm").name == "alpha-writer"


def test_records_of_no_syscall_event_are_none():
    records = [(1112, b"audit(1.000:7): pid=1 uid=0 auid=0 ses=1 msg='op=login'"),
               (1305, b"audit(1.000:8): auid=0 ses=1 op=add_rule key=\"x\" list=4 res=1")]
    window = counted(records)
    assert [(e.name, e.records) for e in window.by_key] == [(NONE, 2)]
    assert window.top("by_key") is None


def test_an_event_split_across_two_windows_keeps_its_key():
    records = stream()
    first = ProducerCounts()
    first.add_many(records[:6])  # the bind event, then alpha's SYSCALL and CWD
    second = first.carry()
    second.add_many(records[6:9])  # alpha's PATH, PROCTITLE, EOE
    window = second.window(1.0)
    assert entry(window, "by_key", ALPHA).records == 3


def test_open_events_are_bounded():
    counts = ProducerCounts()
    for n in range(ProducerCounts.MAX_OPEN + 10):  # SYSCALL records whose EOE never comes
        counts.add(1300, b"audit(1.0:%d): arch=c000003e syscall=2 auid=0 comm=\"a\" exe=\"/b\" "
                   b"key=(null)" % n)
    assert len(counts._open) <= ProducerCounts.MAX_OPEN


def test_top_ten_plus_other():
    counts = {f"k{n:02d}": 100 - n for n in range(15)}
    entries = ranked(counts, total=sum(counts.values()), seconds=1.0)
    assert len(entries) == 11 and entries[-1].name == OTHER
    assert [e.name for e in entries[:3]] == ["k00", "k01", "k02"]
    assert entries[-1].records == sum(100 - n for n in range(10, 15))


def test_json_shape():
    window = counted(stream(), rules={ALPHA: ("-a always,exit -S openat -F key=a",)})
    data = json.loads(json.dumps(window.as_json()))
    assert list(data)[:3] == ["source", "records", "sampled"]
    assert data["source"] == "kernel"
    for dimension in p.DIMENSIONS:
        assert all(set(e) == {"name", "records", "per_s", "share"} for e in data[dimension])
    assert data["by_rule"][0]["name"] == "-a always,exit -S openat -F key=a"


@pytest.mark.parametrize("text, key, comm", [
    (b'audit(1.0:1): arch=c000003e syscall=257 success=yes exit=3 items=1 ppid=1 pid=2 '
     b'auid=1000 uid=0 tty=(none) ses=3 comm="cat" exe="/usr/bin/cat" '
     b'subj=unconfined key="watch"', "watch", "cat"),
    # A name with a space is hex-encoded (audit_log_untrustedstring).
    (b'audit(1.0:1): arch=c000003e syscall=257 success=yes auid=0 uid=0 ses=3 '
     b'comm=6D7920746F6F6C exe="/usr/bin/x" key=(null)', NO_KEY, "my tool"),
    # Two keys (-k a -k b) arrive hex-encoded, joined by \x01.
    (b'audit(1.0:1): arch=c000003e syscall=2 auid=0 comm="sh" exe="/bin/sh" key=610162',
     "a,b", "sh"),
])
def test_parse_syscall(text, key, comm):
    event = parse_syscall(text)
    assert (event.key, event.comm) == (key, comm)


def test_parse_a_record_of_another_shape_falls_back():
    event = parse_syscall(b'audit(1.0:1): syscall=2 comm="x" key="k"')
    assert (event.key, event.syscall, event.comm, event.exe) == ("k", "2", "x", "?")


def test_names_are_resolved_by_what_is_passed_in():
    window = counted(stream(), syscall_name=lambda arch, nr: {"257": "openat"}.get(nr, nr),
                     user_name=lambda auid: "nobody-in-particular")
    assert window.top("by_syscall").name == "openat"
    assert window.top("by_auid").name == "nobody-in-particular"


def test_auid_names():
    assert p.auid_name("4294967295") == "unset"
    assert p.auid_name("0") == "0 (root)"


def test_rule_for():
    rules = {"a": ("-w /etc -p wa -k a",), "b": ("r1 -k b", "r2 -k b")}
    assert rule_for("a", rules) == "-w /etc -p wa -k a"
    assert rule_for("b", rules) == "r1 -k b (+1 more with -k b)"
    assert rule_for("gone", rules) == "-k gone (no such rule loaded)"
    assert rule_for("gone", None) == "-k gone"
    assert rule_for(NO_KEY, rules) == "(rule without a key)"


@pytest.mark.parametrize("rate, budget, every", [(0, 20_000, 1), (20_000, 20_000, 1),
                                                 (20_001, 20_000, 2), (110_000, 20_000, 6),
                                                 (5_000, 0, 1)])
def test_choose_every(rate, budget, every):
    assert choose_every(rate, budget) == every


def test_cost_per_record_is_small():
    """Not a benchmark (docs/producers.md has the figures): a guard against a
    change that makes counting an order of magnitude slower."""
    records = stream() * 50
    counts = ProducerCounts()
    start = time.perf_counter()
    counts.add_many(records)
    per_record = (time.perf_counter() - start) / len(records)
    assert per_record < 20e-6, f"{per_record * 1e6:.1f} us per record"
    assert raw_fields(records[4][1])[0] == b'"auditop-capture-alpha"'


def test_listener_duty_continuous_without_loss_and_one_second_in_five_with():
    duty = p.ListenerDuty()
    assert all(duty.wanted(t / 10, losing=False) for t in range(50))
    # Loss from t=5: listened 5.0-6.0, closed until 10.0, listened 10.0-11.0 ...
    on = [t / 10 for t in range(50, 150) if duty.wanted(t / 10, losing=True)]
    assert on[0] == 5.0 and on[-1] == pytest.approx(10.9)
    assert len(on) == 20  # 2 s of 10
    assert duty.losing
    # Calm again: off until calm_s have passed without loss, then continuous.
    assert not duty.wanted(17.0, losing=False)
    assert duty.wanted(20.0, losing=False) and not duty.losing
