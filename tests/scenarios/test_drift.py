"""Drift watch on the real kernel: `auditctl -b 100` while auditop records is
flagged with who did it (from the lab auditd's own log, found through its
`-c DIR`), and auditop's own change is not flagged by the Monitor that made it.

The lab restores backlog_limit at its teardown; the test restores it too.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from tests.pilot import wait_for
from tests.scenarios.lab import LAB_BACKLOG_LIMIT, auditctl, ids, wait_until

RECORD_S = 7.0


def login_uid() -> int:
    return int(Path("/proc/self/loginuid").read_text().strip())


def changes_of(lines: list[dict], field: str, old: int, new: int) -> list[dict]:
    return [change for line in lines for change in line["setting_changes"]
            if (change["field"], change["old"], change["new"]) == (field, old, new)]


def test_auditctl_change_is_flagged_with_who_did_it_and_auditops_own_is_not(lab):
    from auditop.core.changes import Proposal
    from auditop.core.monitor import Monitor
    from auditop.sources.live import LiveSource

    recording = lab.record(RECORD_S, interval=1.0, sample_rate=20)
    source = LiveSource()
    monitor = Monitor(source, interval=1.0, rate_hz=20.0)
    monitor.start()
    try:
        assert wait_until(lambda: monitor.snapshot().status is not None, 5.0)
        # The recorder is up once its first window is written.
        assert wait_until(lambda: recording.path.exists()
                          and recording.path.read_text().count("\n") >= 1, 10.0)
        changer = subprocess.Popen(["auditctl", "-b", "100"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert changer.wait(timeout=15) == 0
        changed_at = time.time()

        def named() -> bool:
            changes = monitor.snapshot().setting_changes
            return bool(changes) and changes[-1].by is not None
        assert wait_until(named, 5.0), monitor.snapshot().setting_changes
        named_after = time.time() - changed_at

        # auditop's own change, through the Monitor's change path.
        outcome = monitor.change(Proposal("backlog_limit", 100, 128, "exact value"))
        assert outcome.new == 128
        time.sleep(1.5)  # long enough for its CONFIG_CHANGE record to be read too
        snapshot = monitor.snapshot()
    finally:
        monitor.stop()
        source.close()
        auditctl("-b", str(LAB_BACKLOG_LIMIT))
    recording.finish(timeout=30)

    # The in-process Monitor: the auditctl change, named; its own, not at all.
    (change,) = snapshot.setting_changes
    assert (change.field, change.old, change.new) == ("backlog_limit", 64, 100)
    assert (change.by.comm, change.by.pid, change.by.auid) == ("auditctl", changer.pid,
                                                               login_uid())
    assert change.by.exe.endswith("/auditctl") and change.by.command == "auditctl -b 100"
    assert change.by.ppid == os.getpid()
    assert monitor.history.drift.own == 1
    finding = next(f for f in snapshot.findings if f.id == "setting-changed")
    assert finding.severity == "warning"
    assert f"by auditctl (pid {changer.pid}" in finding.title

    # The recording: the finding is in its lines, with who did it.
    assert recording.returncode == 0, recording.stderr
    lines = recording.windows
    flagged = [line for line in lines if "setting-changed" in ids(line)]
    assert flagged, [line["setting_changes"] for line in lines]
    by_auditctl = changes_of(lines, "backlog_limit", 64, 100)
    assert by_auditctl and by_auditctl[-1]["by"]["comm"] == "auditctl"
    assert by_auditctl[-1]["by"]["pid"] == changer.pid
    assert by_auditctl[-1]["by"]["auid"] == login_uid()
    # The log followed is the one the lab's auditd writes (auditd -c <lab>/etc).
    log = lines[-1]["system"]["auditd_log"]
    assert log == {"path": str(lab.conf_dir.parent / "log" / "audit.log"),
                   "unavailable": None}
    assert lines[-1]["system"]["auditd_conf"]["path"] == str(lab.conf_dir / "auditd.conf")
    # To the recorder, the test's Monitor is someone else: its change is
    # reported, named by the sender child whose parent is this test.
    by_other_auditop = changes_of(lines, "backlog_limit", 100, 128)
    assert by_other_auditop and by_other_auditop[-1]["by"]["ppid"] == os.getpid()
    lab.note(named_after_s=round(named_after, 2), auid=change.by.auid,
             recorder_lines_flagged=len(flagged), syscall_exe=change.by.exe)


async def test_the_tui_names_who_changed_it_and_asks_auditd_for_its_state(lab, tmp_path):
    """The live screen as a person sees it: `auditctl -b 100` in another
    terminal shows in the banner with who did it; `+ y` (auditop's own
    change) adds nothing; `i` asks the running auditd for a state report."""
    from auditop.probes.auditd_state import STATE_PATH_3
    from auditop.sources.live import LiveSource
    from auditop.tui.app import AuditopApp, _ask_live_auditd
    from auditop.tui.widgets.findings import FindingsList
    from auditop.tui.widgets.summary import Banner

    state_existed = os.path.exists(STATE_PATH_3)
    app = AuditopApp(source_factory=LiveSource, interval=0.5, sample_rate=20,
                     change_log=tmp_path / "changes.jsonl", ask_auditd_state=_ask_live_auditd)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            banner = app.query_one(Banner)
            assert await wait_for(pilot, lambda: len(app.history.windows) >= 2, timeout=5)
            changer = await asyncio.to_thread(
                subprocess.run, ["auditctl", "-b", "100"], capture_output=True, timeout=15)
            assert changer.returncode == 0
            assert await wait_for(pilot, lambda: "by auditctl (pid" in
                                  banner.render().plain, timeout=5), banner.render().plain
            said = banner.render().plain
            assert said.startswith("! backlog_limit changed 64 -> 100 by auditctl (pid ")

            notices = []
            app.notify = lambda message, **kw: notices.append(message)
            await pilot.press("plus")
            await pilot.press("y")
            assert await wait_for(pilot, lambda: app.snapshot.status.backlog_limit == 200, 5)
            await pilot.pause(1.5)  # the own change's CONFIG_CHANGE record is read too
            # no new change of its own; the setting's value now is said beside it
            assert banner.render().plain == said + ", now 200"
            titles = [f.title for f in app.query_one(FindingsList).findings
                      if f.id == "setting-changed"]
            assert len(titles) == 1 and titles[0].startswith(
                said[2:].replace(" changed 64", " changed underneath auditop: 64")), titles

            await pilot.press("i")
            assert await wait_for(pilot, lambda: any("state report" in n for n in notices), 5)
            assert f"asked auditd (pid {lab.auditd_pid}) for a state report (SIGCONT)" in notices
            assert await wait_for(pilot, lambda: app.snapshot.system.auditd_state is not None, 3)
            await pilot.press("q")
    finally:
        auditctl("-b", str(LAB_BACKLOG_LIMIT))
        if not state_existed and os.path.exists(STATE_PATH_3):
            os.remove(STATE_PATH_3)
