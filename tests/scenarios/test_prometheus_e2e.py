"""A real Prometheus scrapes `auditop exporter` every 5 s while the lab makes
150 ms bursts once a second (scenario 2, docs/scenarios.md).

The stored `auditop_backlog_peak` shows every scrape interval's bursts at the
limit; `auditop_backlog`, the instantaneous value a plain status exporter
gives, shows the backlog between bursts. Where a scrape falls against the
bursts is luck for a real collector; here the bursts are placed so that each
scrape lands 0.6 s after a burst began (after auditd drained it), the way
test_bursts.py places its 1 Hz reader: the state the peak is for. The alert
rules of docs/prometheus are loaded and evaluated by the same Prometheus.

Debian's `prometheus` binary is needed (.ci/run installs it); everything runs
on 127.0.0.1 with free ports and a temporary data directory, and both
processes are ended in any case.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.prom import PROMETHEUS, Exporter, Prometheus, free_port
from tests.scenarios.lab import LAB_BACKLOG_LIMIT

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="the prometheus binary is not installed (Debian: apt-get install -y "
           "prometheus; .ci/run does it)")

RULES = Path(__file__).resolve().parents[2] / "docs" / "prometheus" / "auditop.rules.yml"
SCRAPE_S = 5
BURSTS = 11  # 1 s apart: two scrape intervals hold five each
BURST_S = 0.15
SCRAPE_AFTER_BURST_S = 0.6  # auditd has drained a burst by then
FIRST_SCRAPE_S = 20.0  # prometheus scrapes a new target within one interval


def test_prometheus_stores_the_peaks_its_own_scrapes_miss(lab, tmp_path):
    port = free_port()
    with Exporter("--listen", f"127.0.0.1:{port}") as exporter, \
            Prometheus(tmp_path / "prometheus", [f"127.0.0.1:{port}"], scrape_s=SCRAPE_S,
                       rules=RULES) as prometheus:
        first = wait_for_first_scrape(prometheus)
        # The first scrape at least 2 s from now, less the lead: the first burst.
        next_scrape = first + SCRAPE_S * max(1, int((time.time() + 2 - first) // SCRAPE_S) + 1)
        first_burst = next_scrape - SCRAPE_AFTER_BURST_S
        start_mono = time.monotonic() + (first_burst - time.time())
        producer = lab.producer("bursts", start_mono, BURSTS, BURST_S, 1.0, 2_000_000)
        bursts = lab.results([producer], timeout=BURSTS + 15)[0]["bursts"]
        # One more scrape after the last burst: the quiet one.
        quiet_scrape = next_scrape + SCRAPE_S * ((BURSTS - 1) // SCRAPE_S + 1)
        time.sleep(max(0.0, quiet_scrape + 1.5 - time.time()))
        at = time.time()
        peak_1m = prometheus.query("max_over_time(auditop_backlog_peak[1m])", at=at)
        peaks = prometheus.samples("auditop_backlog_peak", first_burst - SCRAPE_S, at)
        backlogs = prometheus.samples("auditop_backlog", first_burst - SCRAPE_S, at)
        ups = prometheus.samples("up", first, at)
        fired = {series["metric"]["alertname"] for series in prometheus.query(
            'max_over_time(ALERTS{alertstate="firing"}[2m])', at=at)}
        code, _, stderr = exporter.stop(signal.SIGTERM)

    assert code == 0, stderr
    assert len(bursts) == BURSTS and all(opens > 0 for _, _, opens in bursts)
    # The scrapes whose interval held several whole bursts, from the bursts'
    # own clock (on a loaded machine the producer can start later than
    # planned). One burst alone may not reach the limit while the exporter
    # looks: the first one here peaked at 23 and 35 in two runs.
    def held(t: float) -> int:
        return sum(t - SCRAPE_S < end <= t for _, end, _ in bursts)

    during = [(t, v) for t, v in peaks if held(t) >= 3]
    # The instantaneous backlog at those scrapes, where none fell inside a burst.
    instantaneous = [(t, v) for t, v in backlogs if held(t) >= 3
                     and not any(start <= t <= end + 0.3 for start, end, _ in bursts)]
    after = [v for t, v in peaks if t > bursts[-1][1] + 1]
    lab.note(scrapes_during_bursts=len(during),
             stored_peaks=[v for _, v in during], stored_backlogs=[v for _, v in instantaneous],
             max_over_time_1m=peak_1m[0]["value"][1] if peak_1m else None,
             quiet_peaks=after, scrape_offsets=[round((t - bursts[0][0]) % 1.0, 2)
                                                for t, _ in during],
             alerts_fired=sorted(fired))

    assert all(v == 1 for _, v in ups) and len(ups) >= 4
    assert len(during) >= 2, during  # scrapes 5 s apart, across 11 s of bursts
    [series] = peak_1m
    assert float(series["value"][1]) >= LAB_BACKLOG_LIMIT  # the limit is stored
    # Each of these scrape intervals held five bursts; its peak shows them (the
    # backlog flickers at the limit inside a burst: at least 80% of it in every one).
    assert all(v >= 0.8 * LAB_BACKLOG_LIMIT for _, v in during), during
    assert sum(v >= LAB_BACKLOG_LIMIT for _, v in during) >= len(during) - 1, during
    # The instantaneous backlog at the same scrapes mostly shows nothing of them.
    at_limit = [v for _, v in instantaneous if v >= LAB_BACKLOG_LIMIT]
    assert instantaneous, (during, bursts)
    assert len(at_limit) < len(instantaneous) / 2, instantaneous
    assert after and after[-1] < LAB_BACKLOG_LIMIT  # quiet again: the peak starts over
    # The rules see it too: a peak over 80% of the limit, and records lost.
    assert {"AuditBacklogPeakHigh", "AuditRecordsLost"} <= fired, fired
    assert "AuditopExporterDown" not in fired and "AuditdDown" not in fired


def wait_for_first_scrape(prometheus: Prometheus) -> float:
    """The wall-clock time of the first scrape of auditop (Prometheus keeps
    the scrape interval from there)."""
    deadline = time.monotonic() + FIRST_SCRAPE_S
    while time.monotonic() < deadline:
        result = prometheus.query('timestamp(up{job="auditop"})')
        if result:
            up = prometheus.query('up{job="auditop"}')
            assert up and up[0]["value"][1] == "1", up
            return float(result[0]["value"][1])
        time.sleep(0.25)
    raise AssertionError(f"prometheus did not scrape the exporter within {FIRST_SCRAPE_S} s")
