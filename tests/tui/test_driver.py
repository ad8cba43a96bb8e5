"""The TUI's input thread sleeps until a key (tui/driver.py), on a real
pseudo-terminal: no thread wakes ten times a second for nothing, and a bare
Escape (which needs the parser's timeout) and `q` still work."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.terminal import Terminal

ROOT = str(Path(__file__).resolve().parents[2])
AUDITOP = [sys.executable, "-m", "auditop"]
STOCK = "textual.drivers.linux_driver:LinuxDriver"


def wakes(pid: int) -> dict[str, int]:
    """Voluntary context switches so far, per thread."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    counts[task.name] = int(line.split()[1])
        except OSError:
            pass  # the thread ended meanwhile
    return counts


def quietest_thread(env: dict[str, str]) -> tuple[int, str]:
    """The fewest wakes any thread of `auditop --demo` made over 3 s, and
    the screen after `?`, a bare Escape and `q`."""
    with Terminal([*AUDITOP, "--demo"], env=env, cwd=ROOT) as term:
        assert term.wait_for("DEMO", "findings"), term.text[-2000:]
        term.read(1.0)
        before = wakes(term.process.pid)
        term.read(3.0)
        after = wakes(term.process.pid)
        fewest = min(after[tid] - before[tid] for tid in after if tid in before)
        term.type("?")
        assert term.wait_for("Keys", timeout=10), term.text[-2000:]
        mark = len(term.raw)
        term.type("\x1b")  # a bare Escape: closed only through the parser's timeout
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and b"findings:" not in term.raw[mark:]:
            term.read(0.2)
        closed = b"findings:" in term.raw[mark:]
        term.type("q")
        code, _ = term.finish()
    assert code == 0
    return fewest, "closed" if closed else term.text[-2000:]


def test_the_input_thread_sleeps_until_a_key():
    fewest, escape = quietest_thread({})
    assert escape == "closed", escape
    assert fewest <= 1, fewest  # the input thread: woken by nothing in 3 s


def test_textuals_own_driver_is_kept_when_asked_for():
    """TEXTUAL_DRIVER (the web view sets it) wins; Textual's own input
    thread wakes every 0.1 s, so no thread stays asleep (here the quietest,
    Textual's writer, woke 6 times in the 3 s)."""
    fewest, escape = quietest_thread({"TEXTUAL_DRIVER": STOCK})
    assert escape == "closed", escape
    assert fewest > 1, fewest
