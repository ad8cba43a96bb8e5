"""The scenario suite: real overflow, bursts, throttling and daemon faults,
created on the real kernel by a private auditd and load producers
(docs/scenarios.md).

`lab` refuses, and the test fails saying why, when loading the kernel would
not be safe or would disturb something else: failure 2 (a lost record would
panic the machine), audit locked, another auditd running, rules of an
earlier lab left behind. Those are states of a machine to fix, not missing
capabilities, so they must not turn into a quiet skip. A machine without
root, auditd/auditctl or kernel audit skips with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kernel.conftest import kernel_lock, kernel_status  # noqa: F401 - fixtures
from tests.scenarios.lab import Lab, LabRefused, missing_capability


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.lab)


@pytest.fixture
def lab_options():
    """Override in a test module (or parametrize indirectly) to tune the lab."""
    return {}


@pytest.fixture
def lab(kernel_lock, lab_options):  # noqa: F811 - kernel_lock is the imported fixture
    """A private auditd, a scratch directory with its own rule, backlog_limit
    64 and backlog_wait_time 0 (or a scenario's small value). The kernel lock
    is held for the whole lab, teardown included, and the teardown fails the
    test if anything is not as it was."""
    reason = missing_capability()
    if reason:
        pytest.skip(reason)
    try:
        with Lab(**lab_options) as lab:
            yield lab
    except LabRefused as exc:
        pytest.fail(f"the lab refuses to run: {exc}", pytrace=False)
