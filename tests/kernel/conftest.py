"""Real-kernel tests: they run as root on a kernel with audit (CI does), and
skip with the kernel's own reason where there is no privilege or no audit.

Every test here holds `kernel_lock`, so two test runs on one machine never
change the kernel under each other, and restores what it changes
(../shared/docs/real-kernel.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LOCK_PATH = "/run/auditop-kernel-tests.lock"
# Saved before and restored after every test that may change them.
RESTORED_FIELDS = ("backlog_limit", "rate_limit", "backlog_wait_time")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.kernel)


@pytest.fixture(scope="session")
def kernel_status():
    """The status at the start, or a skip saying why the kernel is out of reach."""
    from auditop.kernel.client import AuditClient
    from auditop.core.errors import AuditError

    try:
        with AuditClient() as client:
            return client.get_status()
    except AuditError as exc:
        pytest.skip(f"real kernel audit not usable here: {exc}")


@pytest.fixture
def kernel_lock(kernel_status):
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture
def client(kernel_lock):
    """A client whose settable fields are restored after the test, also when
    it fails. It refuses to run on a machine left with failure = 2 or locked."""
    from auditop.kernel.client import AuditClient

    with AuditClient() as client:
        before = client.get_status()
        if before.failure == 2 or before.enabled == 2:
            pytest.skip(f"refusing to test: failure={before.failure} "
                        f"enabled={before.enabled} on this kernel")
        try:
            yield client
        finally:
            now = client.get_status()
            for field in RESTORED_FIELDS:
                if getattr(now, field) != getattr(before, field):
                    client.set(field, getattr(before, field))


def auditctl_status() -> dict[str, int]:
    """`auditctl -s` as a dict (the reference implementation)."""
    out = subprocess.run(["auditctl", "-s"], check=True, capture_output=True,
                         text=True).stdout
    values = {}
    for line in out.splitlines():
        name, _, rest = line.partition(" ")
        if rest.split() and rest.split()[0].isdigit():
            values[name] = int(rest.split()[0])
    return values


@pytest.fixture
def auditctl():
    if shutil.which("auditctl") is None:
        pytest.skip("auditctl not installed (apt-get install -y auditd)")
    return auditctl_status


def run_auditop(*args: str, drop_audit_control: bool = False,
                timeout: float = 30) -> subprocess.CompletedProcess:
    """Run the installed CLI as a user would; optionally without
    CAP_AUDIT_CONTROL, which the kernel then treats as an ordinary user."""
    command = [sys.executable, "-m", "auditop", *args]
    if drop_audit_control:
        command = ["setpriv", "--inh-caps=-audit_control",
                   "--bounding-set=-audit_control", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL)
