"""`auditop check`: the monitoring-plugins convention (Nagios, Icinga, Sensu).

One line `AUDIT <STATE> - <summary> | <perfdata>`, exit 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN. Perfdata follows the plugin guidelines:
'label'=value[UOM];[warn];[crit];[min];[max] (the labels here need no quotes).

A check an operator can leave on: the state comes from live trouble only
(records lost, the backlog filling, auditd's socket overrun, the kernel
holding senders, auditd stopped or gone while auditing is on, failure 2
with the backlog above half its limit). Configuration risks (a small limit
or socket buffer, flush sync, enriched format, audit locked ...) are named
in the summary ("noted: ...") and in perfdata but leave the state OK; a
stock machine is OK. `--warn/--crit/--ok ID` (or the config file's [check]
lists) give a finding another weight. The mapping: docs/check.md.

Between two runs (export/checkstate.py): records lost since the last check
(critical), the lost counter reset (warning), auditd restarted (warning),
a reboot (named); the same flags reweigh them by their ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from auditop.core.findings import FINDING_IDS, SEVERITY_ORDER, Finding, Thresholds
from auditop.core.history import Window
from auditop.export.checkstate import EVENT_IDS, Between

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}

# A weight as the command line and the config file spell it.
Weight = Literal["ok", "warning", "critical"]
WEIGHTS: dict[str, int] = {"ok": OK, "warning": WARNING, "critical": CRITICAL}
BY_SEVERITY = "by severity"  # warning or critical as the finding says
PANIC_RULE = "failure 2"  # warning; critical with the backlog above half its limit

# Live trouble: how each such finding weighs by default. Every other id is a
# configuration risk or a note: named, state OK.
LIVE: Mapping[str, int | str] = {
    "lost-increasing": CRITICAL,
    "auditd-stopped": CRITICAL,
    "auditd-not-running": CRITICAL,  # also "auditd has died"; only while auditing is on
    "backlog-high": BY_SEVERITY,  # warning from 50% of the limit, critical from 80%
    "backlog-wait": BY_SEVERITY,  # warning; critical when records were lost too
    "netlink-drops": WARNING,
    "kernel-throttling": WARNING,
    "kernel-not-answering": WARNING,
    "failure-panic": PANIC_RULE,
    # auditd's state report (a fresh one: auditd 4.0.5+ writes it every report_interval)
    "auditd-logging-suspended": CRITICAL,
    "plugin-queue-filling": WARNING,
    # A change seen within the sampled window; critical when failure or enabled became 2.
    "setting-changed": BY_SEVERITY,
}


class BadIds(ValueError):
    """An id that names no finding; str() is one line for the user."""


def parse_ids(text: str) -> tuple[str, ...]:
    """"a,b" -> ("a", "b"): known finding ids, comma-separated, spaces around
    them allowed. Raises BadIds for an empty item or an unknown id."""
    ids = []
    for item in text.split(","):
        name = item.strip()
        if not name:
            raise BadIds(f"empty finding id in {text[:60]!r}")
        if name not in FINDING_IDS and name not in EVENT_IDS:
            raise BadIds(f"no finding has the id {name[:60]!r} (ids: see "
                                 "docs/check.md)")
        ids.append(name)
    return tuple(dict.fromkeys(ids))


def overrides_from(lists: Mapping[Weight, Iterable[str]]) -> dict[str, Weight]:
    """{"warning": ids, ...} -> {id: weight}; an id given two weights is an error."""
    weights: dict[str, Weight] = {}
    for weight, ids in lists.items():
        for finding_id in ids:
            if finding_id in weights and weights[finding_id] != weight:
                raise BadIds(f"finding {finding_id!r} is given two weights: "
                                     f"{weights[finding_id]} and {weight}")
            weights[finding_id] = weight
    return weights


def weigh(finding: Finding, window: Window, thresholds: Thresholds,
          overrides: Mapping[str, str] | None = None) -> int:
    """The state this finding gives the check."""
    if overrides and finding.id in overrides:
        return WEIGHTS[overrides[finding.id]]
    rule = LIVE.get(finding.id, OK)
    if rule == BY_SEVERITY:
        return {"critical": CRITICAL, "warning": WARNING}.get(finding.severity, OK)
    if rule == PANIC_RULE:
        status = window.status
        limit = status.backlog_limit if status else None
        peak = window.backlog_peak
        above_half = bool(limit) and peak is not None and peak > thresholds.backlog_warning * limit
        return CRITICAL if above_half else WARNING
    return int(rule)


def check_line(window: Window, findings: Iterable[Finding], thresholds: Thresholds,
               overrides: Mapping[str, str] | None = None,
               between: Between | None = None) -> tuple[int, str]:
    """The state and the line. `between`: what happened since the previous run
    (its events weigh like findings, by id; its notes end the summary)."""
    between = between or Between()
    weighed = [(weigh(f, window, thresholds, overrides), f) for f in findings]
    events = [(WEIGHTS[overrides[e.id]] if overrides and e.id in overrides else e.weight, e)
              for e in between.events]
    state = max([w for w, _ in weighed] + [w for w, _ in events], default=OK)
    alerting = sorted((p for p in weighed if p[0] > OK),
                      key=lambda p: (-p[0], SEVERITY_ORDER[p[1].severity], p[1].id))
    noted = [f.id for w, f in weighed if w == OK]
    # By weight, the window's findings before what happened between runs.
    ranked = sorted([(-w, 0, i, f.title) for i, (w, f) in enumerate(alerting)]
                    + [(-w, 1, i, e.text) for i, (w, e) in enumerate(events) if w > OK])
    parts = [text for *_, text in ranked] or ["audit backlog healthy"]
    parts += [e.text for w, e in events if w == OK]
    if noted:
        parts.append("noted: " + ", ".join(noted))
    parts += list(between.notes)
    return state, (f"AUDIT {STATE_NAMES[state]} - {'; '.join(parts)} | "
                   f"{perfdata(window, thresholds, len(noted), between)}")


def unknown_line(reason: str) -> tuple[int, str]:
    return UNKNOWN, f"AUDIT UNKNOWN - {reason}"


def perfdata(window: Window, thresholds: Thresholds, noted: int = 0,
             between: Between | None = None) -> str:
    status = window.status
    system = window.system
    fields: list[str] = []
    if status is not None:
        limit = status.backlog_limit or 0
        warn = f"{limit * thresholds.backlog_warning:.0f}" if limit else ""
        crit = f"{limit * thresholds.backlog_critical:.0f}" if limit else ""
        top = str(limit) if limit else ""
        fields.append(f"backlog={status.backlog};{warn};{crit};0;{top}")
        fields.append(f"backlog_peak={window.backlog_peak};{warn};{crit};0;{top}")
        fields.append(f"backlog_limit={limit}")
        fields.append(f"lost={status.lost}c")
    if window.lost_per_s is not None:
        fields.append(f"lost_per_s={round(window.lost_per_s, 3)};;0")
    sock = system.auditd_socket if system else None
    if sock is not None:
        fields.append(f"netlink_drops={sock.drops}c")
    if window.netlink_drops_per_s is not None:
        fields.append(f"netlink_drops_per_s={round(window.netlink_drops_per_s, 3)}")
    if sock is not None and sock.rcvbuf is not None:
        fields.append(f"auditd_rcvbuf={sock.rcvbuf}B;;;0")
    if system is not None and system.rmem_default is not None:
        fields.append(f"rmem_default={system.rmem_default}B;;;0")
    if window.wait_per_s is not None:
        fields.append(f"wait_per_s={round(window.wait_per_s, 3)}")
    fields.append(f"noted={noted};;;0")
    if between is not None and between.lost is not None:
        fields.append(f"lost_since_last_check={between.lost};;0;0")
    if between is not None and between.span is not None:
        fields.append(f"last_check_age={between.span:.1f}s")
    return " ".join(fields)
