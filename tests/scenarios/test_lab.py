"""The lab fixture itself: it refuses to load a machine where that is not
safe, and says why; and it restores what it changed."""

from __future__ import annotations

import re

import pytest

from tests.scenarios import lab as lab_module
from tests.scenarios.lab import CHECKED, Lab, LabRefused, auditctl_status, missing_capability

FRESH = {"enabled": 0, "failure": 1, "pid": 0, "rate_limit": 0, "backlog_limit": 64,
         "lost": 0, "backlog": 0, "backlog_wait_time": 15000,
         "backlog_wait_time_actual": 0}


@pytest.mark.parametrize("change, reason", [
    ({"failure": 2}, "failure is 2 (panic)"),
    ({"enabled": 2}, "audit is locked"),
    ({"pid": 4242}, "another auditd is registered"),
])
def test_refuses_an_unsafe_machine_and_says_why(monkeypatch, change, reason):
    monkeypatch.setattr(lab_module, "auditctl_status", lambda: {**FRESH, **change})
    with pytest.raises(LabRefused, match=re.escape(reason)):
        Lab().refuse_if_unsafe()


def test_refuses_a_wait_time_that_is_not_small():
    with pytest.raises(ValueError, match="not small"):
        Lab(wait_time=15000)


def test_refuses_when_another_auditd_is_running(kernel_lock, tmp_path):
    """A real second auditd (started here the way the lab starts its own)."""
    if reason := missing_capability():
        pytest.skip(reason)
    other = Lab()
    other.saved = {name: auditctl_status()[name] for name in CHECKED}
    other._tmp = tmp_path
    try:
        other._write_auditd_conf()
        pid = other.start_auditd()
        with pytest.raises(LabRefused, match=f"another auditd .*{pid}"):
            with Lab():
                pytest.fail("the lab ran beside another auditd")
    finally:
        other.close()  # stops that auditd and checks the machine is as it was
