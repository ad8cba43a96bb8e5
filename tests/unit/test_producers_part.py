"""The benchmark's producer part (tests/benchmarks/producers_part.py): the
lab runs are not part of the suite, but the log counting it times must count
every line, and its figures must name the right anchors."""

from __future__ import annotations

from tests.benchmarks.producers_part import LOG, PER_100K, _section, log_counting, subject

EVENT = (b'type=SYSCALL msg=audit(1700000000.123:%d): arch=c000003e syscall=257 '
         b'success=yes exit=3 items=1 ppid=1 pid=2 auid=0 uid=0 comm="python3" '
         b'exe="/usr/bin/python3.11" key="auditop-lab-1"\n'
         b'type=CWD msg=audit(1700000000.123:%d): cwd="/"\n'
         b'type=EOE msg=audit(1700000000.123:%d): \n')


def test_log_counting_counts_every_line_in_reads_of_half_a_second():
    data = b"".join(EVENT % (i, i, i) for i in range(5000))
    cpu, records = log_counting(data, flood_s=3.0)  # 6 reads, 3 windows
    assert records == data.count(b"\n") == 15000
    assert cpu >= 0


def run(mode: str, k: int, limit: int, drain: float) -> dict:
    out = {"mode": mode, "round": k, "backlog_limit": limit, "ops": 1000, "flood_s": 2.0,
           "lost": 10 * (limit == 64), "auditd_lines": int(drain * 2), "drain_per_s": drain,
           "kauditd_cpu_s": 0.2}
    if mode == "paced":
        out["listener_run"] = {"records": 200_000, "cpu_s": 0.6, "missed": 0}
    return out


def test_section_anchors_and_a_skipped_limit():
    runs = [run(mode, k, 8192, 100.0 + k) for k in range(3) for mode in ("without", "paced")]
    section = _section(runs, [(0.03, 100_000, 100_000)], rounds=3, seconds=2.0, processes=2,
                       skipped="skipped: too slow", stopped=None)
    by = {(f.subject, f.metric): f for f in section.figures}
    paced = by[(subject("paced", 8192), "auditd drain")]
    assert paced.values == (100.0, 101.0, 102.0)
    assert paced.anchors == (subject("without", 8192),)
    assert by[(subject("paced", 8192), PER_100K)].values == (0.3, 0.3, 0.3)
    assert by[(LOG, PER_100K)].values == (0.03,)
    assert by[(LOG, PER_100K)].anchors == (subject("paced", 8192),)
    assert by[(subject("without", 64), "records lost")].missing == "not available: skipped: too slow"
