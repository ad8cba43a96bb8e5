"""Fault injection: one of auditop's sender children killed (the OOM killer,
an admin's `pkill python`) while `record` samples an idle kernel at 10 Hz,
and while the TUI runs. A dead sender must be noticed and replaced at once,
and nothing may be concluded about the kernel from it: every window keeps
its ten answers, no finding says the kernel is silent or throttling."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from auditop.kernel.client import AuditClient
from tests.pilot import wait_for

KERNEL_BLAMED = {"kernel-not-answering", "kernel-throttling"}


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (auditop's senders)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return found


def kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "Z":
                return  # dead, its parent not yet told
        time.sleep(0.01)


@pytest.fixture
def idle_kernel(kernel_lock):
    with AuditClient() as client:
        status = client.get_status()
    if status.backlog_limit and status.backlog > status.backlog_limit:
        pytest.skip(f"the kernel is throttling now (backlog {status.backlog})")


def test_record_keeps_every_answer_after_a_sender_is_killed(idle_kernel, tmp_path):
    out = tmp_path / "rec.jsonl"
    recorder = subprocess.Popen([sys.executable, "-m", "auditop", "record", "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not children(recorder.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        senders = children(recorder.pid)
        assert senders, "record started no sender"
        time.sleep(1.5)
        killed_at = time.time()
        kill_and_wait(senders[0])
        time.sleep(5.5)
    finally:
        recorder.send_signal(signal.SIGINT)
        _, err = recorder.communicate(timeout=10)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # the last line is the window in progress when record stopped: partial
    after = [line for line in lines[:-1] if line["time"] > killed_at + 1.0]
    assert len(after) >= 4, err
    for line in after:
        window = line["window"]
        assert window["failures"] == 0, line
        assert window["samples"] >= 8, [(w["window"]["samples"], w["window"]["failures"])
                                        for w in lines]
        blamed = {f["id"] for f in line["findings"]} & KERNEL_BLAMED
        assert not blamed, line["findings"]
    assert not set(children(recorder.pid))  # no sender left behind either


async def test_tui_keeps_answering_after_its_senders_are_killed(idle_kernel):
    from auditop.sources.live import LiveSource
    from auditop.tui.app import AuditopApp

    app = AuditopApp(source_factory=LiveSource, interval=0.5, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: app.history.last_answered is not None)
        senders = await asyncio.to_thread(children, os.getpid())
        assert senders
        for pid in senders:  # all of them: `pkill -f auditop`
            await asyncio.to_thread(kill_and_wait, pid)
        killed = time.time()
        await pilot.pause(3.0)
        windows = [w for w in app.history.windows if w.start > killed + 0.5]
        assert windows, "no window closed after the kill"
        assert all(w.failures == 0 and w.samples >= 3 for w in windows), [
            (w.samples, w.failures) for w in windows]
        assert not {f.id for f in app.snapshot.findings} & KERNEL_BLAMED
        assert not app.snapshot.latest.throttled
