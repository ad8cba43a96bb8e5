"""Make the SVG screenshots in screenshots/ (the README's) from the real app,
driven by a deterministic scripted source and a fixed clock. A developer
script, not part of the package; from the repository's top:

    python -m tests.screenshots [--out screenshots] [--size 100x30]

The same builders feed the snapshot tests (tests/tui/test_snapshots.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from auditop.core.model import Sample
from auditop.sources.demo import DemoSource
from auditop.sources.replay import ReplayPlayer
from auditop.sources.scripted import (EPOCH, PERIOD, SCENARIOS, ScriptedSource, samples,
                                      silence)
from auditop.tui.app import AuditopApp

SECONDS = 60  # of scripted history before the picture
CLOCK = EPOCH + SECONDS


def fixed_clock() -> float:
    return CLOCK


def use_utc() -> None:
    """The title line shows local time: pin it for reproducible pictures."""
    os.environ["TZ"] = "UTC"
    time.tzset()


def scenario_samples(name: str, seconds: float = SECONDS) -> list[Sample]:
    if name == "not-answering":  # healthy, then the kernel holds the poller for 5 s
        answered = samples("healthy", seconds - 5)
        last = answered[-1]
        return answered + [silence(last, 0.25 * k) for k in range(3, 21)]
    return samples(name, seconds)


class SteppedClock:
    """The demo's clock, stepped by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulated(name: str, seconds: float = SECONDS) -> tuple[DemoSource, list[Sample]]:
    """The demo's simulator (seeded, on a stepped clock) and its samples:
    healthy for a third of `seconds`, then auditd stopped under a flood
    ("demo-overflow"), and for "demo-panic" with failure = 2."""
    clock = SteppedClock()
    source = DemoSource(clock=clock, wall_clock=lambda: EPOCH)
    polled = []
    for step in range(round(seconds / PERIOD)):
        # failure 2 a second before auditd stops, as the tour does: the
        # running auditd logs the change, so the finding names who made it
        if name == "demo-panic" and step == round((seconds / 3 - 1) / PERIOD):
            source.set_failure(2)
        if step == round(seconds / 3 / PERIOD):
            source.stop_auditd()
            source.flood(True)
        clock.now += PERIOD
        polled.append(source.poll())
    return source, polled


def recording(path: Path, scenario: str = "overflow", seconds: float = SECONDS) -> Path:
    """What `auditop record` writes (its own line writer) over `seconds` of a
    scripted scenario."""
    from auditop.commands.record import line_writer
    from auditop.core.monitor import Monitor

    with open(path, "w", encoding="utf-8") as out:
        monitor = Monitor(ScriptedSource(SCENARIOS[scenario]()), on_window=line_writer(out))
        monitor.add(samples(scenario, seconds))
    return path


def replay_app(path: Path) -> AuditopApp:
    """The app over a replay of `path`, read whole, paused at its first
    window, no thread running."""
    player = ReplayPlayer(path, paused=True)
    player.open()
    player.index()
    return AuditopApp(player=player, autostart=False)


def demo_app(name: str, *, read_only: bool = False, change_log: Path | None = None,
             seconds: float = SECONDS) -> AuditopApp:
    """The app on `name`'s first `seconds`, no sampler running: the picture
    depends on nothing but the script (or the seeded simulator)."""
    if name == "replay":
        with tempfile.TemporaryDirectory(prefix="auditop-shot-") as folder:
            # the player keeps the file open: it reads on after the name is gone
            return replay_app(recording(Path(folder) / "overflow.jsonl", seconds=seconds))
    if name.startswith("demo-"):
        source, polled = simulated(name, seconds)
        return AuditopApp(source=source, demo=True, preload=polled, autostart=False,
                          clock=fixed_clock, read_only=read_only,
                          change_log=change_log or Path(os.devnull))
    script = SCENARIOS["healthy" if name == "not-answering" else name]()
    return AuditopApp(source=ScriptedSource(script), preload=scenario_samples(name, seconds),
                      autostart=False, clock=fixed_clock, read_only=read_only,
                      change_log=change_log or Path(os.devnull),
                      ask_auditd_state=pretend_to_ask)


def pretend_to_ask(pid: int | None, letter: str | None) -> str:
    """The scripted auditd's answer to `i`: nothing is signalled."""
    return f"asked auditd (pid {pid}) for a state report (scripted: nothing was sent)"


@dataclass(frozen=True)
class Shot:
    file: str
    scenario: str
    press: Sequence[str] = ()


SHOTS = (
    Shot("healthy", "healthy"),
    Shot("overflow", "overflow"),
    Shot("failure-panic", "panic"),
    Shot("not-answering", "not-answering"),
    Shot("throttled", "throttled"),
    Shot("drift", "drift"),
    Shot("confirm", "overflow", ("plus",)),
    Shot("help", "healthy", ("question_mark",)),
    Shot("demo-overflow", "demo-overflow"),
    Shot("demo-panic", "demo-panic"),
    Shot("replay", "replay", ("n", "n", "right")),
)


async def take(shot: Shot, out: Path, size: tuple[int, int]) -> Path:
    app = demo_app(shot.scenario)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for key in shot.press:
            await pilot.press(key)
            await pilot.pause()
        path = out / f"{shot.file}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


async def take_all(out: Path, sizes: Sequence[tuple[int, int]]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [await take(shot, out, size) for size in sizes for shot in SHOTS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshots")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--size", action="append", default=None,
                        help="WIDTHxHEIGHT (repeatable; default 80x24 and 120x40)")
    args = parser.parse_args(argv)
    sizes = [tuple(int(n) for n in s.split("x")) for s in (args.size or ["80x24", "120x40"])]
    use_utc()
    for path in asyncio.run(take_all(args.out, sizes)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
