"""The audit rules loaded in the kernel, and which rule a key names: how the
producers' `by_rule` turns `key=backup_watch` into
`-a always,exit -F dir=/srv/backup -F key=backup_watch` (issue 16).

Source: `auditctl -l`, the reference rendering, run and parsed (said as
`source = "auditctl -l"`). The kernel's own listing (AUDIT_LIST_RULES, 1013:
one struct audit_rule_data per rule, key in field AUDIT_FILTERKEY 210) would
need auditctl's tables of fields, operators and syscalls to be rendered the
same way; running the tool that owns those tables is simpler and exact.
Without auditctl the rules are unknown (`rules` is None) and `by_rule` names
keys only (core.producers.rule_for).

Read-only: `auditctl -l` lists, it changes nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

LIST_TIMEOUT_S = 5.0  # auditctl -l is an AUDIT_LIST_RULES dump: never held by the backlog


@dataclass(frozen=True, slots=True)
class Rule:
    text: str  # as auditctl -l prints it
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoadedRules:
    source: str  # "auditctl -l", or why the rules are unknown
    rules: tuple[Rule, ...] | None  # None: unknown

    def by_key(self) -> dict[str, tuple[str, ...]] | None:
        """key -> the rules carrying it, for core.producers (None: unknown).
        A rule with several keys is found under each and under them joined
        by commas, the way a record carries them (`key=a,b` once decoded)."""
        if self.rules is None:
            return None
        out: dict[str, list[str]] = {}
        for rule in self.rules:
            names = set(rule.keys)
            if len(rule.keys) > 1:
                names.add(",".join(rule.keys))
            for name in names:
                out.setdefault(name, []).append(rule.text)
        return {key: tuple(texts) for key, texts in out.items()}


def parse_auditctl_list(text: str) -> tuple[Rule, ...]:
    """The rules of `auditctl -l` output (`No rules` is none)."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line == "No rules" or not line.startswith("-"):
            continue
        rules.append(Rule(line, rule_keys(line)))
    return tuple(rules)


def rule_keys(line: str) -> tuple[str, ...]:
    """The keys of one rule line: `-F key=K` (auditctl -l) or `-k K`."""
    tokens = line.split()
    keys = []
    for i, token in enumerate(tokens):
        if token == "-F" and i + 1 < len(tokens) and tokens[i + 1].startswith("key="):
            keys.append(tokens[i + 1][4:])
        elif token == "-k" and i + 1 < len(tokens):
            keys.append(tokens[i + 1])
    return tuple(keys)


def list_rules(auditctl: str | None = None) -> LoadedRules:
    """The loaded rules, from `auditctl -l`."""
    tool = auditctl or shutil.which("auditctl")
    if tool is None:
        return LoadedRules("unknown: auditctl not installed", None)
    try:
        result = subprocess.run([tool, "-l"], capture_output=True, text=True,
                                timeout=LIST_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return LoadedRules(f"unknown: auditctl -l failed ({exc})", None)
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()[:1]
        return LoadedRules(f"unknown: auditctl -l: {why[0] if why else result.returncode}",
                           None)
    return LoadedRules("auditctl -l", parse_auditctl_list(result.stdout))
