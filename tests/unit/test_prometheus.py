"""auditop/export/prometheus.py: every metric's name, type, labels and value, as
Prometheus' own parser reads them; unknown values left out; the textfile and the
HTTP server give the same text."""

from __future__ import annotations

import os
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditop.core.findings import Finding
from auditop.core.model import AuditStatus
from auditop.export.prometheus import (DEFAULT_PORT, AuditCollector, Reading, exposition,
                                       registry_for, serve, write_textfile)

FULL = Reading(
    status=AuditStatus(enabled=1, failure=2, pid=812, rate_limit=0, backlog_limit=8192,
                       lost=7, backlog=12, feature_bitmap=127, backlog_wait_time=15000,
                       backlog_wait_time_actual=1234),
    backlog_peak=8000, rmem_default=212992, netlink_rcvbuf=425984, netlink_drops=3,
    auditd_up=True, hz=250,
    findings=(Finding("failure-panic", "critical", "t", "d"),
              Finding("rmem-default-small", "warning", "t", "d")),
)

# family name -> (type, [(sample name, labels, value)])
EXPECTED = {
    "auditop_enabled": ("gauge", [("auditop_enabled", {}, 1)]),
    "auditop_failure_mode": ("gauge", [("auditop_failure_mode", {}, 2)]),
    "auditop_backlog": ("gauge", [("auditop_backlog", {}, 12)]),
    "auditop_backlog_peak": ("gauge", [("auditop_backlog_peak", {}, 8000)]),
    "auditop_backlog_limit": ("gauge", [("auditop_backlog_limit", {}, 8192)]),
    "auditop_lost": ("counter", [("auditop_lost_total", {}, 7)]),
    "auditop_rate_limit": ("gauge", [("auditop_rate_limit", {}, 0)]),
    "auditop_backlog_wait_time_seconds": (
        "gauge", [("auditop_backlog_wait_time_seconds", {}, 60.0)]),
    "auditop_backlog_wait_time_actual_seconds": (
        "counter", [("auditop_backlog_wait_time_actual_seconds_total", {}, 1234 / 250)]),
    "auditop_rmem_default_bytes": ("gauge", [("auditop_rmem_default_bytes", {}, 212992)]),
    "auditop_netlink_rcvbuf_bytes": ("gauge", [("auditop_netlink_rcvbuf_bytes", {}, 425984)]),
    "auditop_netlink_drops": ("counter", [("auditop_netlink_drops_total", {}, 3)]),
    "auditop_auditd_up": ("gauge", [("auditop_auditd_up", {}, 1)]),
    "auditop_finding": ("gauge", [
        ("auditop_finding", {"id": "failure-panic", "severity": "critical"}, 1),
        ("auditop_finding", {"id": "rmem-default-small", "severity": "warning"}, 1)]),
}


def parsed(text: bytes) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text.decode())}


def test_every_metric_type_labels_and_value():
    families = parsed(exposition(FULL))
    assert set(families) == set(EXPECTED)
    for name, (kind, samples) in EXPECTED.items():
        family = families[name]
        assert family.type == kind, name
        assert family.documentation, name
        assert [(s.name, s.labels, s.value) for s in family.samples] == samples, name
        assert all(s.timestamp is None for s in family.samples)


def test_help_and_type_lines_use_the_exposed_names():
    text = exposition(FULL).decode()
    for name, (kind, samples) in EXPECTED.items():
        exposed = samples[0][0]
        assert f"# TYPE {exposed} {kind}\n" in text
        assert f"# HELP {exposed} " in text


def test_unknown_values_are_left_out_not_zero():
    families = parsed(exposition(Reading()))
    assert set(families) == {"auditop_finding"}  # the family is there, with no finding
    assert families["auditop_finding"].samples == []


def test_a_short_kernel_reply_leaves_out_only_what_it_lacks():
    # A 3.14-5.8 kernel: no backlog_wait_time_actual.
    status = AuditStatus(enabled=1, failure=1, pid=0, rate_limit=0, backlog_limit=64,
                         lost=0, backlog=0, backlog_wait_time=60000)
    families = parsed(exposition(Reading(status=status, auditd_up=False, hz=1000)))
    assert "auditop_backlog_wait_time_actual_seconds" not in families
    assert families["auditop_backlog_wait_time_seconds"].samples[0].value == 60.0
    assert families["auditop_lost"].samples[0].value == 0  # known zero stays
    assert families["auditop_auditd_up"].samples[0].value == 0
    assert "auditop_backlog_peak" not in families


@pytest.mark.parametrize("hz", [None, 0])
def test_without_hz_the_seconds_are_unknown(hz):
    families = parsed(exposition(Reading(status=FULL.status, hz=hz)))
    assert "auditop_backlog_wait_time_seconds" not in families
    assert "auditop_backlog_wait_time_actual_seconds" not in families
    assert families["auditop_backlog"].samples[0].value == 12


def test_large_counters_are_exact():
    status = AuditStatus(lost=2**32 - 1)
    assert parsed(exposition(Reading(status=status)))["auditop_lost"].samples[0].value == 2**32 - 1


def test_registering_takes_no_reading():
    def boom() -> Reading:
        raise AssertionError("read at registration")
    registry_for(boom)  # describe() gives the names without calling it
    names = {m.name for m in AuditCollector(boom).describe()}
    assert names == set(EXPECTED) | set(PRODUCER_FAMILIES)


def test_textfile(tmp_path):
    path = tmp_path / "auditop.prom"
    path.write_text("old")
    write_textfile(path, FULL)
    assert path.read_bytes() == exposition(FULL)
    assert os.listdir(tmp_path) == ["auditop.prom"]  # no temporary file left


def test_default_port_is_in_the_exporter_range():
    assert 9100 <= DEFAULT_PORT <= 65535


def test_http_scrape_returns_the_same_text():
    calls = []

    def reading() -> Reading:
        calls.append(1)
        return FULL

    server = serve("127.0.0.1", 0, reading)
    try:
        assert server.port != 0
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            body = response.read()
        assert body == exposition(FULL)
        assert calls == [1]
        # ?name[]= filtering works because the collector describes its names.
        with urllib.request.urlopen(url + "?name[]=auditop_backlog", timeout=5) as response:
            only = parsed(response.read())
        assert set(only) == {"auditop_backlog"}
    finally:
        server.shutdown()
    assert not server.thread.is_alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)


# -- issue 16: records per key and per type, bounded labels ----------------------

PRODUCER_FAMILIES = ("auditop_records_by_key", "auditop_records_by_type")


def _window_with(producers, end: float):
    from tests.unit.builders import make_sample
    from auditop.core.history import History
    history = History(1.0)
    history.producers = lambda: producers
    for t in (0.0, 0.5, 1.0):
        closed = history.add(make_sample(end + t))
    return closed


def test_records_per_key_and_type_are_counters_with_at_most_top_n_plus_other():
    from auditop.core.producers import ProducerCounts, ProducerTotals
    from tests.unit.test_producers_wiring import syscall
    totals, serial = ProducerTotals(), 0
    for round_ in range(5):  # 5 windows, 8 new keys each: 40 keys in all
        counts = ProducerCounts()
        for k in range(8):
            for _ in range(10 - k):
                serial += 1
                counts.add(1300, syscall(serial, f"key{round_}-{k}", "tar", "/usr/bin/tar"))
        totals.add(counts.window(1.0))
    text = exposition(Reading(records_by_key=tuple(totals.by_key.items()),
                              records_by_type=tuple(totals.by_type.items())))
    families = parsed(text)
    keys = {s.labels["key"]: s.value for s in families["auditop_records_by_key"].samples
            if s.name.endswith("_total")}
    assert len(keys) == 11 and "other" in keys  # 10 named + other, of 40 keys
    assert sum(keys.values()) == serial  # nothing dropped: the rest is `other`
    types = {s.labels["type"]: s.value for s in families["auditop_records_by_type"].samples
             if s.name.endswith("_total")}
    assert types == {"SYSCALL": serial}


def test_totals_only_grow_and_add_each_window_once():
    from auditop.core.producers import ProducerTotals
    from tests.unit.test_producers_wiring import producers
    windows = [_window_with(producers(), 10.0 * n) for n in range(3)]
    totals = ProducerTotals()
    totals.catch_up(windows[:2])
    first = dict(totals.by_key)
    totals.catch_up(windows)  # the first two again, and one more
    assert totals.windows == 3
    assert all(totals.by_key[k] >= v for k, v in first.items())
    assert totals.by_key["backup_watch"] == 3 * 150


def test_producer_counters_are_left_out_when_nothing_counted():
    families = parsed(exposition(Reading()))
    assert not set(PRODUCER_FAMILIES) & set(families)
