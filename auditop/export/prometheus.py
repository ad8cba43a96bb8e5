"""Prometheus exposition of the audit backlog, with the official prometheus_client.

A Monitor Snapshot -> one frozen Reading (`reading()`, pure: what auditop knows
at scrape time) -> a custom Collector -> the text format. Three ways out: `exposition()` for `auditop status --format
prometheus`, `write_textfile()` for node_exporter's textfile collector, and
`serve()` for `auditop exporter --listen`. Values are exactly what was read (the
two wait times converted from jiffies with the kernel's HZ); a value auditop does
not know is left out, never exported as 0. Alert rules that read these metrics:
docs/prometheus/auditop.rules.yml; running it on a fleet: docs/fleet.md.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import (CollectorRegistry, generate_latest, start_http_server,
                               write_to_textfile)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from auditop.core.findings import Finding
from auditop.core.model import AuditStatus, SystemInfo
from auditop.core.monitor import Snapshot
from auditop.core.producers import ProducerTotals

# The Prometheus wiki's "Default port allocations" list gives every exporter its
# own port so that several run side by side on one host. 9100-9999 is full (since
# 2023); new allocations continue in a 10000+ block, where ports up to 10061 are
# taken by the entries we could see (10019, 10023, 10061 among them). 10090 is
# past them, not on the list as we could read it, not an IANA-registered service
# port and not one that browsers block (10080 is). Register it on the wiki before
# a release; auditop.config.DEFAULT_EXPORTER_PORT must stay equal to it.
DEFAULT_PORT = 10090


@dataclass(frozen=True, slots=True)
class Reading:
    """What the exporter knows at one scrape. None: unknown (left out)."""

    status: AuditStatus | None = None  # the newest AUDIT_GET reply; None if it did not answer
    backlog_peak: int | None = None  # highest backlog since the previous scrape
    rmem_default: int | None = None  # net.core.rmem_default, bytes
    netlink_rcvbuf: int | None = None  # auditd socket's real receive buffer (sock_diag rb), bytes
    netlink_drops: int | None = None  # auditd socket's drops counter
    auditd_up: bool | None = None  # auditd registered with the kernel and running
    hz: int | None = None  # kernel HZ: jiffies per second
    findings: tuple[Finding, ...] = ()  # active findings
    # Records counted per rule key and per record type since the exporter
    # started (issue 16; the top 10 names plus `other`); None: not counted.
    records_by_key: tuple[tuple[str, int], ...] | None = None
    records_by_type: tuple[tuple[str, int], ...] | None = None


def reading(snapshot: Snapshot, *, peak: int | None, hz: int | None,
            totals: ProducerTotals | None = None) -> Reading:
    """The Reading for one scrape. `peak`: the highest backlog since the previous
    scrape (Monitor.take_peak()); when no status was answered since, the newest
    backlog stands for it. While the kernel is not answering, the status it last
    gave is left out rather than exported as current. `totals`: the records
    per key and type so far, caught up here with the snapshot's windows (the
    exporter keeps one for its life; without, the snapshot's windows alone)."""
    totals = (totals or ProducerTotals()).catch_up(snapshot.windows)
    counted = totals.windows > 0
    status = snapshot.status if snapshot.silent_for == 0 else None
    system = snapshot.system
    socket = system.auditd_socket if system is not None else None
    if peak is None and status is not None:
        peak = status.backlog
    return Reading(
        status=status,
        backlog_peak=peak,
        rmem_default=system.rmem_default if system is not None else None,
        # sock_diag's rb: a field of the socket row where the probe reads it.
        netlink_rcvbuf=getattr(socket, "rcvbuf", None),
        netlink_drops=socket.drops if socket is not None else None,
        auditd_up=auditd_up(status, system),
        hz=hz,
        findings=snapshot.findings,
        records_by_key=tuple(sorted(totals.by_key.items())) if counted else None,
        records_by_type=tuple(sorted(totals.by_type.items())) if counted else None,
    )


def auditd_up(status: AuditStatus | None, system: SystemInfo | None) -> bool | None:
    """auditd is registered with the kernel (pid > 0) and that process is alive and
    not stopped. None when that is not known (no answer, /proc not read)."""
    if status is None or status.pid is None:
        return None
    if status.pid == 0:
        return False
    if system is None:
        return None
    process = system.auditd
    return (process is not None and process.pid == status.pid
            and not process.stopped and process.state not in ("Z", "X", "x"))


_FAMILIES: tuple[tuple[str, str, str], ...] = (
    # (name, type, help); counters are exposed with _total
    ("auditop_enabled", "gauge",
     "Kernel audit enabled flag: 0 off, 1 on, 2 on and locked until reboot."),
    ("auditop_failure_mode", "gauge",
     "Kernel audit failure mode: 0 silent, 1 printk, 2 panic on the first lost record."),
    ("auditop_backlog", "gauge",
     "Audit records queued in the kernel for auditd at the scrape."),
    ("auditop_backlog_peak", "gauge",
     "Highest kernel audit backlog since the previous scrape, sampled at 10-50 Hz."),
    ("auditop_backlog_limit", "gauge",
     "Kernel audit backlog_limit: queued records before senders wait and records "
     "are lost (0 means no limit)."),
    ("auditop_lost", "counter",
     "Audit records the kernel lost (its lost counter; auditctl --reset-lost resets it)."),
    ("auditop_rate_limit", "gauge",
     "Kernel audit rate_limit in records per second (0 means no limit)."),
    ("auditop_backlog_wait_time_seconds", "gauge",
     "Kernel audit backlog_wait_time: longest a sender waits for backlog room, seconds."),
    ("auditop_backlog_wait_time_actual_seconds", "counter",
     "Time senders spent waiting for audit backlog room (backlog_wait_time_actual), seconds."),
    ("auditop_rmem_default_bytes", "gauge",
     "net.core.rmem_default: the receive buffer new sockets get, auditd's included, bytes."),
    ("auditop_netlink_rcvbuf_bytes", "gauge",
     "Receive buffer of auditd's audit netlink socket as the kernel holds it, bytes."),
    ("auditop_netlink_drops", "counter",
     "Failed sends to auditd's audit netlink socket because its receive buffer was full "
     "(netlink overruns, the socket's drops); kauditd keeps and retries each record, so "
     "these are not lost records."),
    ("auditop_auditd_up", "gauge",
     "1 if auditd is registered with the kernel and running, else 0."),
    ("auditop_finding", "gauge",
     "1 for each active auditop finding (see auditop status for its explanation)."),
    ("auditop_records_by_key", "counter",
     "Audit records by the rule key that produced them, as the multicast listener "
     "counted them (estimates when sampled; the top 10 keys, the rest as other)."),
    ("auditop_records_by_type", "counter",
     "Audit records by record type, as the multicast listener counted them (the top "
     "10 types, the rest as other)."),
)

_LABELLED = {"auditop_finding": ("id", "severity"), "auditop_records_by_key": ("key",),
             "auditop_records_by_type": ("type",)}


def _values(reading: Reading) -> dict[str, float | None]:
    status = reading.status or AuditStatus()
    hz = reading.hz if reading.hz and reading.hz > 0 else None

    def seconds(jiffies: int | None) -> float | None:
        return None if jiffies is None or hz is None else jiffies / hz

    return {
        "auditop_enabled": status.enabled,
        "auditop_failure_mode": status.failure,
        "auditop_backlog": status.backlog,
        "auditop_backlog_peak": reading.backlog_peak,
        "auditop_backlog_limit": status.backlog_limit,
        "auditop_lost": status.lost,
        "auditop_rate_limit": status.rate_limit,
        "auditop_backlog_wait_time_seconds": seconds(status.backlog_wait_time),
        "auditop_backlog_wait_time_actual_seconds": seconds(status.backlog_wait_time_actual),
        "auditop_rmem_default_bytes": reading.rmem_default,
        "auditop_netlink_rcvbuf_bytes": reading.netlink_rcvbuf,
        "auditop_netlink_drops": reading.netlink_drops,
        "auditop_auditd_up": None if reading.auditd_up is None else int(reading.auditd_up),
    }


def _family(name: str, kind: str, documentation: str) -> Metric:
    cls = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    if name in _LABELLED:
        return cls(name, documentation, labels=_LABELLED[name])
    return cls(name, documentation)


def families(reading: Reading) -> Iterator[Metric]:
    """The metric families for one reading; unknown values are left out."""
    values = _values(reading)
    for name, kind, documentation in _FAMILIES:
        family = _family(name, kind, documentation)
        if name == "auditop_finding":
            for finding in reading.findings:
                family.add_metric((finding.id, finding.severity), 1)
        elif name in ("auditop_records_by_key", "auditop_records_by_type"):
            counts = (reading.records_by_key if name == "auditop_records_by_key"
                      else reading.records_by_type)
            if counts is None:
                continue  # not counted: left out, never 0
            for label, records in counts:
                family.add_metric((label,), records)
        elif values[name] is None:
            continue
        else:
            family.add_metric((), values[name])
        yield family


class AuditCollector(Collector):
    """A prometheus_client collector: calls `reading_fn` once per scrape."""

    def __init__(self, reading_fn: Callable[[], Reading]) -> None:
        self._reading_fn = reading_fn

    def describe(self) -> Iterable[Metric]:
        # The names, without taking a reading: registering never touches the kernel,
        # and ?name[]= filtering of /metrics knows which names are ours.
        return [_family(*spec) for spec in _FAMILIES]

    def collect(self) -> Iterable[Metric]:
        return families(self._reading_fn())


def registry_for(reading_fn: Callable[[], Reading]) -> CollectorRegistry:
    """A private registry (no process or platform collectors) with auditop's collector."""
    registry = CollectorRegistry()
    registry.register(AuditCollector(reading_fn))
    return registry


def exposition(reading: Reading) -> bytes:
    """The text format (0.0.4) for one reading: `auditop status --format prometheus`."""
    return generate_latest(registry_for(lambda: reading))


def write_textfile(path: str | os.PathLike[str], reading: Reading) -> None:
    """Replace `path` atomically for node_exporter's textfile collector: written to a
    temporary file in the same directory, then renamed over it (prometheus_client's
    write_to_textfile does both). The name must end in .prom to be collected; the
    temporary name does not, so a half-written file is never read."""
    write_to_textfile(os.fspath(path), registry_for(lambda: reading))


@dataclass(frozen=True)
class Server:
    """A running exporter; `shutdown()` stops it and frees the port."""

    httpd: WSGIServer
    thread: threading.Thread

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:  # the real one, also when asked for port 0
        return int(self.httpd.server_address[1])

    def shutdown(self, timeout: float = 5.0) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


def serve(address: str, port: int, reading_fn: Callable[[], Reading]) -> Server:
    """Serve /metrics on address:port in a daemon thread (prometheus_client's
    start_http_server, with a private registry); each scrape calls reading_fn,
    possibly from several threads at once. OSError if the port cannot be bound."""
    httpd, thread = start_http_server(port, addr=address, registry=registry_for(reading_fn))
    return Server(httpd, thread)
