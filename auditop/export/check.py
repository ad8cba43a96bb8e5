"""`auditop check`: the monitoring-plugins convention (Nagios, Icinga, Sensu).

One line `AUDIT <STATE> - <summary> | <perfdata>`, exit 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN. Perfdata follows the plugin guidelines:
'label'=value[UOM];[warn];[crit];[min];[max].
"""

from __future__ import annotations

from auditop.core.findings import Finding, Thresholds
from auditop.core.history import Window

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


def check_line(window: Window, findings: list[Finding],
               thresholds: Thresholds) -> tuple[int, str]:
    severities = {f.severity for f in findings}
    state = CRITICAL if "critical" in severities else WARNING if "warning" in severities else OK
    problems = [f for f in findings if f.severity != "info"]
    summary = "; ".join(f.title for f in problems) or "audit backlog healthy"
    return state, f"AUDIT {STATE_NAMES[state]} - {summary} | {perfdata(window, thresholds)}"


def unknown_line(reason: str) -> tuple[int, str]:
    return UNKNOWN, f"AUDIT UNKNOWN - {reason}"


def perfdata(window: Window, thresholds: Thresholds) -> str:
    status = window.status
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
        fields.append(f"lost_per_s={window.lost_per_s:.1f};;0")
    if window.netlink_drops_per_s is not None:
        fields.append(f"netlink_drops_per_s={window.netlink_drops_per_s:.1f}")
    if window.wait_per_s is not None:
        fields.append(f"wait_per_s={window.wait_per_s:.1f}")
    return " ".join(fields)
