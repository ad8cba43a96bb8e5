"""`auditop check` between runs on the real kernel: a loss caused between two
runs is CRITICAL in the second, with the count and the span; a third run
with nothing lost is not.

The loss: audit on (if it was off), backlog_wait_time 0 first (real-kernel.md,
rule 3), rate_limit 1 and a bounded number of user messages (`auditctl -m`),
which the kernel's rate limit drops and counts in `lost`. No rule is added.
Everything is restored in a finally; `lost` is reset only when it was 0 before,
as the scenario lab does.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

from tests.kernel.conftest import auditctl_status, run_auditop

MESSAGES = 40  # user messages sent at rate_limit 1: most are lost
COMMAND_TIMEOUT_S = 5.0
LOSS_WAIT_S = 5.0


def run_auditctl(*args: str) -> None:
    subprocess.run(["auditctl", *args], check=True, capture_output=True,
                   timeout=COMMAND_TIMEOUT_S)


def check(state_file) -> tuple[int, str, int]:
    """One `auditop check` run: its exit code, its line, the lost it kept."""
    result = run_auditop("check", "--window", "0.5", "--state-file", str(state_file))
    line = result.stdout.strip()
    assert result.returncode in (0, 1, 2), line + result.stderr
    assert line.count("\n") == 0 and line.startswith("AUDIT ")
    print(f"\n  check exit {result.returncode}: {line}")
    return result.returncode, line, json.loads(state_file.read_text())["lost"]


def cause_a_loss(before) -> int:
    """Lose records through the rate limit; how many `lost` grew by."""
    lost_at_start = auditctl_status()["lost"]
    run_auditctl("--backlog_wait_time", "0")
    run_auditctl("-r", "1")
    if before.enabled == 0:
        run_auditctl("-e", "1")
    for i in range(MESSAGES):
        run_auditctl("-m", f"auditop check test message {i}")
    deadline = time.monotonic() + LOSS_WAIT_S
    while auditctl_status()["lost"] == lost_at_start and time.monotonic() < deadline:
        time.sleep(0.1)
    return auditctl_status()["lost"] - lost_at_start


def test_a_loss_between_two_checks_is_critical_in_the_second(client, auditctl, tmp_path):
    state_file = tmp_path / "check.json"
    before = client.get_status()
    assert before.enabled in (0, 1) and before.failure != 2  # the client fixture skips otherwise
    try:
        first_code, first, first_lost = check(state_file)
        assert "since the last check" not in first  # no state yet: nothing said
        assert "lost_since_last_check" not in first
        try:
            caused = cause_a_loss(before)
        finally:
            client.set("rate_limit", before.rate_limit)
            if client.get_status().enabled != before.enabled:
                run_auditctl("-e", str(before.enabled))
            client.set("backlog_wait_time", before.backlog_wait_time)
        assert caused > 0, "the rate limit lost nothing: no loss to report"

        code, second, second_lost = check(state_file)
        since = second_lost - first_lost
        assert since >= caused
        assert code == 2
        summary, perf = second.split(" | ")
        assert summary.startswith("AUDIT CRITICAL - ")
        assert re.search(rf"\b{since} records lost since the last check "
                         r"(\d+(\.\d)? s|\d+ min( \d+ s)?) ago", summary), summary
        assert f"lost_since_last_check={since};;0;0" in perf.split()
        assert re.search(r"\blast_check_age=\d+\.\ds\b", perf)

        third_code, third, third_lost = check(state_file)
        assert third_lost == second_lost
        assert "records lost since the last check" not in third
        assert "lost_since_last_check=0;;0;0" in third.split(" | ")[1].split()
        assert third_code == first_code  # the kernel as before the loss
    finally:
        now = auditctl_status()
        if before.lost == 0 and now["lost"]:
            run_auditctl("--reset-lost")
    after = client.get_status()
    assert (after.enabled, after.failure, after.rate_limit, after.backlog_wait_time) == (
        before.enabled, before.failure, before.rate_limit, before.backlog_wait_time)
