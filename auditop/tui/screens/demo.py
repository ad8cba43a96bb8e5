"""The demo's screen (`auditop --demo`): the live screen over the simulator,
plus its keys (one per DEMO_ACTIONS entry, said in a notice), the tour, and
the panic: when the simulated machine panics (failure = 2 met a lost
record), the panic screen covers the frozen display until the demo is reset;
a reset starts a fresh history, as the machine's reboot does."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from auditop.sources.demo_actions import DEMO_ACTIONS, TOUR, take_tour
from auditop.tui.screens.monitor import LiveScreen
from auditop.tui.widgets.summary import Banner

if TYPE_CHECKING:
    from auditop.core.monitor import Snapshot
    from auditop.sources.demo import DemoSource

DEMO_PREFIX = "demo."
TOUR_TICK = 0.25  # seconds between two looks at the tour's next step
TOUR_LINGER = 5.0  # seconds the last step stays on screen


class DemoScreen(LiveScreen):
    mode = "demo"
    key_prefix = DEMO_PREFIX

    BINDINGS = [
        Binding(action.key, f"demo('{action.id}')", action.id.removeprefix(DEMO_PREFIX),
                tooltip=f"demo: {action.description}", id=action.id, show=False)
        for action in DEMO_ACTIONS
    ] + [
        Binding("t", "demo_tour", "tour", tooltip=f"demo: the tour, every incident in "
                f"{TOUR[-1].at + 5:.0f} s (t: stop)", id="demo.tour", show=False),
        Binding("left_curly_bracket", "tour_step(-1)", "tour back", tooltip="demo: the tour's "
                "previous step", id="demo.tour-back", show=False),
        Binding("right_curly_bracket", "tour_step(1)", "tour on", tooltip="demo: the tour's "
                "next step", id="demo.tour-next", show=False),
    ]

    def __init__(self, demo: DemoSource, **kwargs) -> None:
        super().__init__(**kwargs)
        self.demo = demo
        self._tour = None  # [the timer, when the tour started, how far it has got]
        self.tour_at: int | None = None  # the tour step on screen (an index of TOUR)

    def compose_under_banner(self) -> ComposeResult:
        # The tour's narration stays on screen while the tour runs (a notice vanishes).
        yield Static("", id="tour-panel")

    @classmethod
    def mode_bindings(cls) -> list:
        return [b for b in super().mode_bindings() if b.id != "auditd-state"]  # no auditd

    def can_ask_state(self) -> bool:
        return False  # the simulator: no auditd to ask

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "auditd_state":
            return False
        if action == "tour_step":
            return self._tour is not None  # shown only while the tour runs
        return super().check_action(action, parameters)

    def show(self, snapshot: Snapshot) -> None:
        super().show(snapshot)
        if self.is_mounted:
            self.check_panic()

    def on_mount(self) -> None:
        super().on_mount()
        self.check_panic()  # a preloaded demo may have panicked already

    def action_demo(self, action_id: str) -> None:
        if action_id == "demo.reset":
            self._stop_tour()
        message = self.demo.perform(action_id)
        if action_id == "demo.reset":
            self.reset(message)
        else:
            self.notify(message, title="demo", timeout=4)

    def action_demo_tour(self) -> None:
        if self._tour is not None:
            self._stop_tour()
            self.notify("tour stopped", title="demo", timeout=3)
            return
        self._tour = [self.set_interval(TOUR_TICK, self._tour_tick), time.monotonic(), 0.0]
        self.notify("the tour: every incident in turn", title="demo", timeout=3)
        self._show_tour("the tour begins: watch the backlog row and the findings")
        self.refresh_bindings()

    def _tour_tick(self) -> None:
        timer, started, done = self._tour
        now = time.monotonic() - started
        if take_tour(self.demo, done, now):
            self.tour_at = max(i for i, step in enumerate(TOUR) if step.at < now)
            self._show_tour()
        self._tour[2] = now
        if now > TOUR[-1].at + TOUR_LINGER:
            self._stop_tour()

    def action_tour_step(self, direction: int) -> None:
        """Go to the tour's previous or next step at once: its actions run
        again on the simulator, and the tour goes on from there."""
        if self._tour is None:
            return
        at = (-1 if self.tour_at is None else self.tour_at) + direction
        at = min(max(at, 0), len(TOUR) - 1)
        step = TOUR[at]
        take_tour(self.demo, step.at, step.at + 1e-9)  # that step's actions alone
        self._tour[1] = time.monotonic() - step.at - 1e-6  # the clock of that step
        self._tour[2] = step.at + 1e-6
        self.tour_at = at
        self._show_tour()

    def _show_tour(self, text: str | None = None) -> None:
        panel = self.query_one("#tour-panel", Static)
        if text is None and self.tour_at is not None:
            text = (f"tour {self.tour_at + 1}/{len(TOUR)}: {TOUR[self.tour_at].says}  "
                    "({ back  } next  t stop)")
        panel.update(text or "")
        panel.display = bool(text)

    def _stop_tour(self) -> None:
        if self._tour is not None:
            self._tour[0].stop()
            self._tour = None
            self.tour_at = None
            self._show_tour("")
            self.refresh_bindings()

    def reset(self, message: str) -> None:
        """After a reboot of the simulated machine: the panic screen goes,
        the display runs again on a fresh history (no window, chart scale,
        finding or setting change of the run before)."""
        from auditop.tui.screens.panic import PanicScreen

        if isinstance(self.app.screen, PanicScreen):
            self.app.screen.dismiss(None)
        self.query_one(Banner).panicked = None
        monitor = self.app.monitor
        monitor.restart(since=self.demo.booted_at)
        self.app.snapshot = self.snapshot = monitor.snapshot()
        self.paused = False
        self.notify(message, title="demo", timeout=4)
        self.refresh_view()

    def check_panic(self) -> None:
        """The simulated machine panicked: stop the display there, say so."""
        from auditop.tui.screens.panic import PanicScreen

        panic = self.demo.panicked
        if panic is None or isinstance(self.app.screen, PanicScreen):
            return
        while self.app.screen is not self:  # a dialog open at the moment of the panic
            self.app.pop_screen()
        self.query_one(Banner).panicked = panic  # says the panic, not a risk to come
        self.paused = True
        self.app.push_screen(PanicScreen(panic, self.snapshot))
        self.refresh_view()  # the title says PAUSED: the display is frozen at the panic
