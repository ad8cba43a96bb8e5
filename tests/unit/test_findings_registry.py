"""The findings registry: one signature for every rule, ids written once
(in `@rule("id")`) and derived from the registry, which docs/check.md and
`check --warn/--crit/--ok` follow."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from auditop.core import findings
from auditop.core.findings import FINDING_IDS, RULES, STAGES, Facts, Rule, evaluate
from auditop.core.history import History
from auditop.export.check import parse_ids
from auditop.export.checkstate import EVENT_IDS
from auditop.sources.scripted import SCENARIOS, samples
from tests.unit.builders import feed

DOCS = Path(__file__).resolve().parents[2] / "docs" / "check.md"


def test_the_ids_come_from_the_registry_and_are_unique():
    assert FINDING_IDS == tuple(rule.id for rule in RULES)
    assert len(set(FINDING_IDS)) == len(FINDING_IDS)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", i) for i in FINDING_IDS), FINDING_IDS


def test_every_rule_of_every_stage_is_registered():
    defined = [value for stage in STAGES for value in vars(stage).values()
               if isinstance(value, Rule)]
    assert set(defined) == set(RULES)
    assert {rule.stage for rule in RULES} == {"settings", "kernel_queue", "socket", "auditd",
                                             "producers"}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_takes_the_facts_and_nothing_else(rule):
    parameters = list(inspect.signature(rule.check).parameters.values())
    assert len(parameters) == 1 and parameters[0].annotation in ("Facts", Facts)


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_finding_carries_its_rules_id(name):
    history = History()
    feed(history, samples(name, 3.0))
    history.flush()
    given = {f.id for f in evaluate(history)}
    assert given <= set(FINDING_IDS), name


def test_check_accepts_every_registered_id():
    assert parse_ids(",".join(FINDING_IDS)) == FINDING_IDS


def test_docs_check_md_names_every_registered_id():
    """docs/check.md keeps its own table (with the why of each weight); it
    must name every id the registry has, and no id that is none."""
    text = DOCS.read_text()
    section = text.split("## What sets the state", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", section))
    assert set(FINDING_IDS) <= named, sorted(set(FINDING_IDS) - named)
    assert named <= set(FINDING_IDS) | set(EVENT_IDS), sorted(named - set(FINDING_IDS))


def test_the_package_exports_what_callers_use():
    for name in ("DEFAULT", "SEVERITY_ORDER", "Finding", "Severity", "Thresholds", "evaluate"):
        assert hasattr(findings, name)
