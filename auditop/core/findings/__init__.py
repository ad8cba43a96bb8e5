"""Findings: pure rules over History. Each has a stable id, a severity, a
title, an explanation a newcomer understands, and a remedy where one exists.

What the rules look at (base.Facts, the one signature of every rule): the
newest *closed* window for anything measured over time (lost, backlog peak,
drops, waiting), the newest answered status for the kernel's settings, and
the newest sample's system info (sysctls, auditd, auditd.conf, auditd's
state report). So configuration findings show from the first answered
sample, and measured ones from the first closed window. Every rule skips
quietly what it cannot know (a field the kernel did not send, no config).

The rules, by the stage of a record's way they watch, one module each:

    settings.py      the kernel's audit settings, and a setting changed underneath auditop
    kernel_queue.py  records lost, the backlog filling, processes waiting, the kernel
                     holding senders or silent, its log unreadable
    socket.py        auditd's netlink socket: overrun, a small receive buffer
    auditd.py        auditd not running or stopped, how it writes, its plugin queue,
                     its logging suspended
    producers.py     one rule key or one process producing most of the records

A rule is `@rule("id")` over a function Facts -> Found | None (base.py). The
registry below is every rule of those modules; FINDING_IDS, which `check
--warn/--crit/--ok` accept and docs/check.md lists, comes from it.
"""

from __future__ import annotations

from auditop.core.findings import auditd, kernel_queue, producers, settings, socket
from auditop.core.findings.base import (DEFAULT, SEVERITY_ORDER, Facts, Finding, Found, Rule,
                                        Severity, Thresholds)
from auditop.core.history import History

__all__ = ["DEFAULT", "SEVERITY_ORDER", "FINDING_IDS", "RULES", "Facts", "Finding", "Found",
           "Rule", "Severity", "Thresholds", "evaluate"]

STAGES = (settings, kernel_queue, socket, auditd, producers)

# Every rule, in the order each stage's module defines them.
RULES: tuple[Rule, ...] = tuple(
    value for stage in STAGES for value in vars(stage).values() if isinstance(value, Rule))

# Every id a rule can give (`check --warn/--crit/--ok` accept these).
FINDING_IDS: tuple[str, ...] = tuple(r.id for r in RULES)


def evaluate(history: History, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """Every finding that holds now, critical first, then by id."""
    facts = Facts(
        history=history,
        window=history.windows[-1] if history.windows else None,
        status=history.last_answered.status if history.last_answered else None,
        system=history.last_system,
        limits=thresholds,
    )
    found = [finding for rule in RULES if (finding := rule(facts)) is not None]
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f.severity], f.id))
