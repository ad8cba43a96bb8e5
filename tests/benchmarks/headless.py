"""Section 3: headless commands as whole processes, start to exit, beside
`auditctl -s`. `status` and `check` sample for their --window (1 s by
default) so that rates and peaks mean something: most of their wall time is
that window, by design."""

from __future__ import annotations

import os
import shutil
import sys

from tests.benchmarks.procs import run_measured
from tests.benchmarks.table import Figure, Section, unavailable

AUDITCTL = "auditctl -s"
COMMANDS = {
    "auditop status --json": ["status", "--json"],
    "auditop check": ["check"],
    "auditop status --json --window 0.1": ["status", "--json", "--window", "0.1"],
}
# check exits 0-2 with a state (1 WARNING is a normal default Debian set-up).
ACCEPTED = {"auditop check": (0, 1, 2)}


def measure(runs: int = 5, auditctl_runs: int = 20) -> Section:
    figures: list[Figure] = []
    notes = [f"{runs} runs of each auditop command, {auditctl_runs} of auditctl -s, "
             "taking turns; CPU: the process, its children and the senders it left "
             "behind (wait4)"]
    env = {**os.environ, "NO_COLOR": "1"}
    values: dict[str, tuple[list[float], list[float]]] = {}
    failed: dict[str, str] = {}
    have_auditctl = shutil.which("auditctl") is not None
    for round_ in range(max(runs, auditctl_runs)):
        if have_auditctl and round_ < auditctl_runs:
            _run(AUDITCTL, ["auditctl", "-s"], env, values, failed)
        if round_ < runs:
            for name, args in COMMANDS.items():
                _run(name, [sys.executable, "-m", "auditop", *args], env, values, failed)
    for name in (AUDITCTL, *COMMANDS):
        if name == AUDITCTL and not have_auditctl:
            why = "auditctl not installed (apt-get install -y auditd)"
        else:
            why = failed.get(name, "")
        if name in values:
            wall, cpu = values[name]
            anchors = () if name == AUDITCTL else (AUDITCTL,)
            figures += [Figure(name, "wall", "ms", tuple(wall), anchors=anchors),
                        Figure(name, "CPU", "ms", tuple(cpu), anchors=anchors)]
        else:
            figures += [unavailable(name, metric, "ms", why or "no run succeeded")
                        for metric in ("wall", "CPU")]
        if name in failed and name in values:
            notes.append(f"{name}: some runs failed ({failed[name]})")
    return Section("Headless commands, start to exit", tuple(figures), tuple(notes))


def _run(name: str, argv: list[str], env, values, failed) -> None:
    run = run_measured(argv, timeout=30, env=env)
    if run.returncode in ACCEPTED.get(name, (0,)):
        wall, cpu = values.setdefault(name, ([], []))
        wall.append(run.wall * 1e3)
        cpu.append(run.cpu * 1e3)
    else:
        failed[name] = f"exit {run.returncode}"
