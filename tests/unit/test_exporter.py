"""auditop/export/exporter.py and prometheus.reading(): a Snapshot becomes one
Reading; the peak between two scrapes is the burst a scrape misses; HTTP and
textfile loops end on `stop` and never write to the kernel."""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditop.core.errors import NotPrivileged
from auditop.core.model import AuditdProcess, AuditStatus, NetlinkSocketRow, Sample
from auditop.core.monitor import Monitor
from auditop.export import exporter
from auditop.export.prometheus import auditd_up, reading
from auditop.sources.scripted import AUDITD_PID, HEALTHY_STATUS, HEALTHY_SYSTEM
from tests.unit.builders import make_sample, silent_sample


class KnobSource:
    """Answers at once with the backlog the test sets; counts polls; any set()
    is recorded (the exporter must make none)."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.backlog = 0
        self.polls = 0
        self.writes: list[tuple[str, int]] = []
        self.fail = fail

    def poll(self) -> Sample:
        if self.fail is not None:
            raise self.fail
        self.polls += 1
        return Sample(time=time.time(), mono=time.monotonic(),
                      status=replace(HEALTHY_STATUS, backlog=self.backlog, backlog_limit=64),
                      system=replace(HEALTHY_SYSTEM, read_at=time.monotonic()))

    def set(self, field, value):
        self.writes.append((field, value))
        raise AssertionError("the exporter wrote to the kernel")

    def close(self) -> None:
        pass

    def wait_polls(self, count: int, timeout: float = 5.0) -> None:
        target = self.polls + count
        deadline = time.monotonic() + timeout
        while self.polls < target:
            assert time.monotonic() < deadline, "the sampler stopped polling"
            time.sleep(0.005)


def values(text: str) -> dict:
    return {sample.name: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if not sample.labels}


# -- reading(): pure ------------------------------------------------------------------

def snapshot_of(*samples: Sample):
    return Monitor(KnobSource()).add(samples)


def test_reading_takes_status_system_and_findings_from_the_snapshot():
    socket = NetlinkSocketRow(portid=AUDITD_PID, groups=0, rmem=0, drops=9, inode=1)
    snap = snapshot_of(make_sample(0.0, backlog=3, lost=5,
                                   system=replace(HEALTHY_SYSTEM, auditd_socket=socket)))
    got = reading(snap, peak=40, hz=250)
    assert got.status == snap.status and got.status.backlog == 3
    assert got.backlog_peak == 40 and got.hz == 250
    assert (got.rmem_default, got.netlink_drops) == (HEALTHY_SYSTEM.rmem_default, 9)
    assert got.auditd_up is True and got.findings == snap.findings


def test_reading_rcvbuf_comes_from_the_socket_row_when_it_has_one():
    class RowWithRcvbuf:
        drops, rcvbuf = 0, 425_984
    snap = replace(snapshot_of(make_sample(0.0)),
                   system=replace(HEALTHY_SYSTEM, auditd_socket=RowWithRcvbuf()))
    assert reading(snap, peak=None, hz=None).netlink_rcvbuf == 425_984
    no_sock_diag = replace(HEALTHY_SYSTEM, auditd_socket=replace(HEALTHY_SYSTEM.auditd_socket,
                                                                 rcvbuf=None))
    assert reading(snapshot_of(make_sample(0.0, system=no_sock_diag)), peak=None,
                   hz=None).netlink_rcvbuf is None


def test_without_a_peak_the_newest_backlog_stands_for_it():
    snap = snapshot_of(make_sample(0.0, backlog=12))
    assert reading(snap, peak=None, hz=None).backlog_peak == 12
    assert reading(snap, peak=0, hz=None).backlog_peak == 0


def test_while_the_kernel_is_silent_its_old_status_is_left_out():
    snap = snapshot_of(make_sample(0.0, backlog=12), silent_sample(3.0))
    assert snap.silent_for > 0 and snap.status is not None
    got = reading(snap, peak=None, hz=250)
    assert got.status is None and got.backlog_peak is None and got.auditd_up is None
    assert got.rmem_default == HEALTHY_SYSTEM.rmem_default


@pytest.mark.parametrize("pid, process, expected", [
    (AUDITD_PID, AuditdProcess(AUDITD_PID, "auditd", "S", None), True),
    (AUDITD_PID, AuditdProcess(AUDITD_PID, "auditd", "R", None), True),
    (AUDITD_PID, AuditdProcess(AUDITD_PID, "auditd", "T", None), False),  # SIGSTOP
    (AUDITD_PID, AuditdProcess(AUDITD_PID, "auditd", "Z", None), False),  # died
    (AUDITD_PID, None, False),  # the kernel names a pid that is gone
    (AUDITD_PID, AuditdProcess(AUDITD_PID + 1, "auditd", "S", None), False),
    (0, None, False),  # no auditd registered
    (None, None, None),  # a reply without the field
])
def test_auditd_up(pid, process, expected):
    system = replace(HEALTHY_SYSTEM, auditd=process)
    assert auditd_up(AuditStatus(pid=pid), system) is expected


def test_auditd_up_unknown_without_status_or_system():
    assert auditd_up(None, HEALTHY_SYSTEM) is None
    assert auditd_up(AuditStatus(pid=AUDITD_PID), None) is None


# -- the peak between scrapes -------------------------------------------------------------

@pytest.fixture
def running():
    monitors = []

    def start(source, sink=None, **kwargs):
        monitor = Monitor(source, rate_hz=50, **kwargs)
        if sink is not None:
            monitor.connect(sink)
        monitor.start()
        monitors.append(monitor)
        return monitor
    yield start
    for monitor in monitors:
        monitor.stop()


def test_a_burst_between_two_scrapes_shows_in_the_peak_not_in_the_backlog(running):
    source = KnobSource()
    monitor = running(source, interval=60)  # no window closes: only scrapes publish
    source.wait_polls(3)
    exporter.scrape(monitor, 250)  # the previous scrape
    source.backlog = 65
    source.wait_polls(3)
    source.backlog = 0
    source.wait_polls(3)
    got = exporter.scrape(monitor, 250)
    assert got.backlog_peak == 65 and got.status.backlog == 0
    # A second scraper right after gets what came since: the burst went to the first.
    again = exporter.scrape(monitor, 250)
    assert again.backlog_peak == 0
    assert source.writes == []


def test_a_scrape_sees_samples_the_published_snapshot_has_not(running):
    source = KnobSource()
    monitor = running(source, interval=60)
    source.wait_polls(3)
    source.backlog = 7
    source.wait_polls(3)
    assert monitor.snapshot().status.backlog == 0  # published at the first answer
    assert monitor.fresh_snapshot().status.backlog == 7


# -- HTTP ----------------------------------------------------------------------------------

def start_loop(target, *args, **kwargs):
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=target, args=args,
                              kwargs={**kwargs, "stop": stop, "announce": lines.append},
                              daemon=True)
    thread.start()
    return stop, thread, lines


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_http_serves_metrics_and_stops_on_request(running):
    source = KnobSource()
    monitor = running(source)
    stop, thread, lines = start_loop(exporter.run_http, monitor, "127.0.0.1", 0, hz=250)
    wait_for(lambda: lines)
    assert len(lines) == 1
    url = re.fullmatch(r"auditop exporter: listening on (http://127\.0\.0\.1:\d+/metrics)",
                       lines[0]).group(1)
    source.wait_polls(2)
    with urllib.request.urlopen(url, timeout=5) as response:
        got = values(response.read().decode())
    assert got["auditop_backlog_limit"] == 64 and got["auditop_auditd_up"] == 1
    assert got["auditop_backlog_wait_time_seconds"] == HEALTHY_STATUS.backlog_wait_time / 250
    started = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 2
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=1)  # the port is free again
    assert source.writes == []


def test_http_ends_when_sampling_fails(running):
    monitor = running(KnobSource(fail=NotPrivileged()), sink=lambda event: None)
    stop, thread, _ = start_loop(exporter.run_http, monitor, "127.0.0.1", 0, hz=None)
    thread.join(5)
    assert not thread.is_alive() and isinstance(monitor.failure, NotPrivileged)


def test_listen_url_brackets_ipv6():
    assert exporter.listen_url("::1", 10090) == "http://[::1]:10090/metrics"
    assert exporter.listen_url("127.0.0.1", 10090) == "http://127.0.0.1:10090/metrics"


# -- textfile ---------------------------------------------------------------------------------

def test_textfile_is_replaced_whole_and_only_the_final_name_ends_in_prom(running, tmp_path):
    source = KnobSource()
    monitor = running(source)
    path = tmp_path / "auditop.prom"
    stop, thread, lines = start_loop(exporter.run_textfile, monitor, path, 0.1, hz=250)
    seen, names = [], set()
    deadline = time.monotonic() + 3
    while len(seen) < 20 and time.monotonic() < deadline:
        names.update(p.name for p in tmp_path.iterdir())
        if path.exists():
            seen.append(values(path.read_text()))  # whole every time: never half a file
        time.sleep(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert lines == [f"auditop exporter: writing {path} every 0.1 s"]
    assert len(seen) >= 20 and all(v["auditop_backlog_limit"] == 64 for v in seen)
    assert [n for n in names if n.endswith(".prom")] == ["auditop.prom"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auditop.prom"]  # no leftovers
    assert "# TYPE auditop_backlog_peak gauge" in path.read_text()
    assert source.writes == []


def test_textfile_first_write_waits_for_the_first_answer_not_for_every(running, tmp_path):
    monitor = running(KnobSource())
    path = tmp_path / "auditop.prom"
    started = time.monotonic()
    stop, thread, _ = start_loop(exporter.run_textfile, monitor, path, 60.0, hz=250)
    wait_for(path.exists, timeout=3)
    assert time.monotonic() - started < 3
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_textfile_write_errors_propagate(running, tmp_path):
    monitor = running(KnobSource())
    stop = threading.Event()
    with pytest.raises(OSError):
        exporter.run_textfile(monitor, tmp_path / "gone" / "auditop.prom", 0.1, hz=None,
                              stop=stop, announce=lambda line: None)


@pytest.mark.parametrize("name, problem", [
    ("auditop.prom", None),
    ("auditop.txt", "reads only *.prom files"),
    ("missing/auditop.prom", "no such directory"),
])
def test_check_textfile(tmp_path, name, problem):
    said = exporter.check_textfile(tmp_path / name)
    assert said is None if problem is None else problem in said
