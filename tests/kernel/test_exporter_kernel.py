"""The Prometheus outputs on the real kernel, as a user runs them: `status
--format prometheus` read by prometheus_client's parser and checked against
auditctl and /proc; `exporter --listen` and `exporter --textfile` started,
read and stopped with SIGTERM / SIGINT (exit 0). The exporter only reads."""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from auditop.probes.boot import kernel_hz
from tests.kernel.conftest import run_auditop
from tests.prom import Exporter, free_port

# The values that only people and daemons change: equal to auditctl's.
SETTINGS = {"auditop_enabled": "enabled", "auditop_failure_mode": "failure",
            "auditop_backlog_limit": "backlog_limit", "auditop_rate_limit": "rate_limit"}


def parse(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: dict, name: str) -> float:
    [sample] = families[name].samples
    assert sample.timestamp is None
    return sample.value


def auditd_running(pid: int) -> int:
    """1 if auditd `pid` is registered and its process alive and not stopped."""
    if not pid:
        return 0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2] not in "TtZX")


def check_against_the_kernel(families: dict, auditctl_status: dict) -> None:
    for metric, field in SETTINGS.items():
        assert value(families, metric) == auditctl_status[field], metric
    hz = kernel_hz()
    if hz:
        assert value(families, "auditop_backlog_wait_time_seconds") == (
            auditctl_status["backlog_wait_time"] / hz)
    rmem = int(Path("/proc/sys/net/core/rmem_default").read_text())
    assert value(families, "auditop_rmem_default_bytes") == rmem
    assert value(families, "auditop_auditd_up") == auditd_running(auditctl_status["pid"])
    assert value(families, "auditop_backlog_peak") >= value(families, "auditop_backlog") - 64
    assert families["auditop_lost"].type == "counter"
    assert families["auditop_lost"].samples[0].name == "auditop_lost_total"
    for sample in families["auditop_finding"].samples:
        assert set(sample.labels) == {"id", "severity"} and sample.value == 1


def test_status_format_prometheus_parses_and_agrees_with_auditctl(kernel_lock, auditctl):
    before = auditctl()
    result = run_auditop("status", "--format", "prometheus", "--window", "0.5")
    after = auditctl()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    families = parse(result.stdout)
    assert {"auditop_enabled", "auditop_backlog", "auditop_backlog_peak", "auditop_lost",
            "auditop_rmem_default_bytes", "auditop_auditd_up", "auditop_finding"} <= set(
        families)
    for family in families.values():
        exposed = family.name + ("_total" if family.type == "counter" else "")
        assert f"# HELP {exposed} {family.documentation}\n" in result.stdout
        assert f"# TYPE {exposed} {family.type}\n" in result.stdout
    check_against_the_kernel(families, before)
    assert before["lost"] <= value(families, "auditop_lost") <= after["lost"]


def test_exporter_http_serves_the_kernel_and_stops_on_sigterm(kernel_lock, auditctl):
    port = free_port()
    with Exporter("--listen", f"127.0.0.1:{port}") as exporter:
        assert exporter.first_line == (f"auditop exporter: listening on "
                                       f"http://127.0.0.1:{port}/metrics")
        texts = []
        for _ in range(3):  # each scrape answers at once, from the Monitor's samples
            started = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                        timeout=5) as answer:
                texts.append(answer.read().decode())
            assert time.monotonic() - started < 1.5
            time.sleep(0.3)
        status = auditctl()
        started = time.monotonic()
        code, out, err = exporter.stop(signal.SIGTERM)
    assert (code, out, err) == (0, "", "")
    assert time.monotonic() - started < 3
    for text in texts:
        check_against_the_kernel(parse(text), status)


def test_exporter_stops_on_ctrl_c(kernel_lock):
    port = free_port()
    with Exporter("--listen", f"127.0.0.1:{port}") as exporter:
        code, out, err = exporter.stop(signal.SIGINT)
    assert (code, out, err) == (0, "", "")


def test_exporter_textfile_appears_whole_and_stops_on_sigterm(kernel_lock, auditctl,
                                                              tmp_path):
    path = tmp_path / "auditop.prom"
    reads, names, mtimes = [], set(), set()
    with Exporter("--textfile", str(path), "--every", "1") as exporter:
        assert exporter.first_line == f"auditop exporter: writing {path} every 1 s"
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            names.update(p.name for p in tmp_path.iterdir())
            if path.exists():
                mtimes.add(path.stat().st_mtime_ns)
                reads.append(path.read_text())
            time.sleep(0.01)
        status = auditctl()
        code, out, err = exporter.stop(signal.SIGTERM)
    assert (code, out, err) == (0, "", "")
    assert len(mtimes) >= 3  # the first at the first answer, then every second
    assert [n for n in names if n.endswith(".prom")] == ["auditop.prom"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auditop.prom"]
    for text in reads:  # every read is a whole exposition: the file is renamed over
        assert text.endswith("\n") and "# TYPE auditop_finding gauge" in text
        check_against_the_kernel(parse(text), status)
