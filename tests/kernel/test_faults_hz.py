"""Fault injection: HZ on a host without /proc/config.gz (stock Debian,
RHEL and Ubuntu kernels). /proc/config.gz is hidden in a private mount
namespace (a bind mount of /dev/null over it); the same kernel then has to
give its HZ from /boot/config-$(uname -r) or, failing that, by measuring
/proc/timer_list."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys

import pytest

from auditop.probes.boot import kernel_hz_reading

HIDE_CONFIG = "mount --bind /dev/null /proc/config.gz"


def _in_private_namespace(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"}, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def true_hz():
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace needs root")
    hz, source = kernel_hz_reading()
    if hz is None or source != "/proc/config.gz":
        pytest.skip(f"this kernel has no /proc/config.gz to hide (HZ {hz} from {source})")
    return hz


AUDITOP = f"{sys.executable} -m auditop"


def test_hz_measured_when_no_config_is_readable(kernel_lock, true_hz):
    result = _in_private_namespace(
        f"{HIDE_CONFIG}; mount -t tmpfs none /boot; {AUDITOP} status --json --window 0.3")
    assert result.returncode == 0, result.stderr
    system = json.loads(result.stdout)["system"]
    assert system["hz"] == true_hz
    assert system["hz_source"] == "measured from /proc/timer_list"


def test_hz_from_boot_config_when_proc_config_is_hidden(kernel_lock, true_hz):
    release = platform.release()
    result = _in_private_namespace(
        f"{HIDE_CONFIG}; mount -t tmpfs none /boot; "
        f"printf 'CONFIG_HZ_{true_hz}=y\\nCONFIG_HZ={true_hz}\\n' > /boot/config-{release}; "
        f"{AUDITOP} status --json --window 0.3")
    assert result.returncode == 0, result.stderr
    system = json.loads(result.stdout)["system"]
    assert (system["hz"], system["hz_source"]) == (true_hz, f"/boot/config-{release}")


def test_wait_seconds_everywhere_without_proc_config(kernel_lock, true_hz):
    """What HZ unknown took away: seconds in `status` and the wait-seconds
    metrics."""
    text = _in_private_namespace(
        f"{HIDE_CONFIG}; mount -t tmpfs none /boot; {AUDITOP} status --window 0.3")
    assert text.returncode == 0, text.stderr
    assert "HZ unknown" not in text.stdout
    assert f"at HZ {true_hz}" in text.stdout
    assert "HZ measured from /proc/timer_list" in text.stdout
    metrics = _in_private_namespace(
        f"{HIDE_CONFIG}; mount -t tmpfs none /boot; "
        f"{AUDITOP} status --format prometheus --window 0.3")
    assert metrics.returncode == 0, metrics.stderr
    assert "\nauditop_backlog_wait_time_seconds " in metrics.stdout
    assert "\nauditop_backlog_wait_time_actual_seconds_total " in metrics.stdout
