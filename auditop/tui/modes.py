"""The keys of the two modes besides live: the demo and the replay.

Both are Bindings of the one app (AuditopApp.BINDINGS), each with an id, and
shown in their own footer line (widgets/keys.py) and in the help only in
their mode: check_action hides a mode's keys outside it. The actions are
methods of the app, written here as a mixin so that app.py keeps to the
live screen's concerns.

- Demo (`auditop --demo`): one key per DEMO_ACTIONS entry (its id is the
  binding's id), run on the simulator and said in a notice. When the
  simulated machine panics (failure = 2 met a lost record), the panic screen
  covers the frozen display until the demo is reset; a reset starts a fresh
  history, as the machine's reboot does.
- Replay (`auditop replay FILE`): step a window back / forward, next /
  previous window where a finding begins, slower / faster, start / end.
  `p` pauses the replay itself. Kernel changes are unavailable.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.binding import Binding

from auditop.sources.demo_actions import DEMO_ACTIONS, TOUR, take_tour
from auditop.tui.widgets.summary import Banner

if TYPE_CHECKING:
    from auditop.core.monitor import Monitor
    from auditop.sources.demo import DemoSource
    from auditop.sources.replay import ReplayPlayer

DEMO_PREFIX, REPLAY_PREFIX = "demo.", "replay."

DEMO_BINDINGS = [
    Binding(action.key, f"demo('{action.id}')", action.id.removeprefix(DEMO_PREFIX),
            tooltip=f"demo: {action.description}", id=action.id, show=False)
    for action in DEMO_ACTIONS
] + [Binding("t", "demo_tour", "tour", tooltip=f"demo: the tour, every incident in "
             f"{TOUR[-1].at + 5:.0f} s (t: stop)", id="demo.tour", show=False)]
TOUR_TICK = 0.25  # seconds between two looks at the tour's next step

REPLAY_BINDINGS = [
    # priority: over the findings list's own left / right (it never scrolls sideways)
    Binding("left", "replay_step(-1)", "back", tooltip="replay: one window back (pauses)",
            id="replay.back", show=False, priority=True),
    Binding("right", "replay_step(1)", "forward",
            tooltip="replay: one window forward (pauses)", id="replay.forward", show=False,
            priority=True),
    Binding("n", "replay_find(1)", "next finding",
            tooltip="replay: next window where a warning or critical begins",
            id="replay.next", show=False),
    Binding("N", "replay_find(-1)", "previous",
            tooltip="replay: previous window where a warning or critical begins",
            id="replay.previous", show=False),
    Binding("less_than_sign", "replay_speed(-1)", "slower",
            tooltip="replay: slower (0.25x to 1000x the recording's pace)",
            id="replay.slower", show=False),
    Binding("greater_than_sign", "replay_speed(1)", "faster",
            tooltip="replay: faster (0.25x to 1000x the recording's pace)",
            id="replay.faster", show=False),
    Binding("shift+left", "replay_jump(0)", "start", tooltip="replay: the first window",
            id="replay.start", show=False),
    Binding("shift+right", "replay_jump(1)", "end",
            tooltip="replay: the last window read so far", id="replay.end", show=False),
]

DEMO_ACTION_NAMES = frozenset({"demo", "demo_tour"})
REPLAY_ACTION_NAMES = frozenset({"replay_step", "replay_find", "replay_speed", "replay_jump"})


def mode_of(binding: Binding) -> str | None:
    """'demo', 'replay' or None (a key of every mode)."""
    for prefix in (DEMO_PREFIX, REPLAY_PREFIX):
        if binding.id and binding.id.startswith(prefix):
            return prefix.rstrip(".")
    return None


class ModeActions:
    """The demo's and the replay's actions (mixed into AuditopApp)."""

    demo: DemoSource | None
    player: ReplayPlayer | None
    monitor: Monitor
    _tour = None  # (the timer, when the tour started, how far it has got)

    def action_demo(self, action_id: str) -> None:
        if self.demo is None:
            return
        if action_id == "demo.reset":
            self._stop_tour()
        message = self.demo.perform(action_id)
        if action_id == "demo.reset":
            self.demo_reset(message)
        else:
            self.notify(message, title="demo", timeout=4)

    def action_demo_tour(self) -> None:
        if self._tour is not None:
            self._stop_tour()
            self.notify("tour stopped", title="demo", timeout=3)
            return
        self._tour = [self.set_interval(TOUR_TICK, self._tour_tick), time.monotonic(), 0.0]
        self.notify("the tour: every incident in turn", title="demo", timeout=3)

    def _tour_tick(self) -> None:
        timer, started, done = self._tour
        now = time.monotonic() - started
        for said in take_tour(self.demo, done, now):
            self.notify(said, title="tour", timeout=7)
        self._tour[2] = now
        if now > TOUR[-1].at:
            self._stop_tour()

    def _stop_tour(self) -> None:
        if self._tour is not None:
            self._tour[0].stop()
            self._tour = None

    def demo_reset(self, message: str) -> None:
        """After a reboot of the simulated machine: the panic screen goes,
        the display runs again on a fresh history (no window, chart scale,
        finding or setting change of the run before)."""
        from auditop.tui.screens.panic import PanicScreen

        if isinstance(self.screen, PanicScreen):
            self.screen.dismiss(None)
        self.query_one(Banner).panicked = None
        self.monitor.restart(since=self.demo.booted_at)
        self.snapshot = self.monitor.snapshot()
        self.paused = False
        self.notify(message, title="demo", timeout=4)
        self._refresh_view()

    def check_demo_panic(self) -> None:
        """The simulated machine panicked: stop the display there, say so."""
        from auditop.tui.screens.panic import PanicScreen

        panic = self.demo.panicked if self.demo is not None else None
        if panic is None or isinstance(self.screen, PanicScreen):
            return
        while len(self.screen_stack) > 1:  # a dialog open at the moment of the panic
            self.pop_screen()
        self.query_one(Banner).panicked = panic  # says the panic, not a risk to come
        self.paused = True
        self.push_screen(PanicScreen(panic, self.snapshot))
        self._refresh_view()  # the title says PAUSED: the display is frozen at the panic

    def action_replay_step(self, count: int) -> None:
        self.player.step(count)

    def action_replay_find(self, direction: int) -> None:
        self.player.next_finding(direction)

    def action_replay_speed(self, direction: int) -> None:
        (self.player.faster if direction > 0 else self.player.slower)()

    def action_replay_jump(self, to_end: int) -> None:
        self.player.jump(bool(to_end))
