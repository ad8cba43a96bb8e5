"""The TUI: `auditop` (live), `auditop --demo` and `auditop replay FILE`.

Data flows one way:

    Monitor (its own threads: sampling, History, findings) --Snapshotted--> the mode's screen
    or ReplayPlayer (a recording's windows, at its pace)   --Snapshotted--> the mode's screen

The app picks the screen of its mode (screens/monitor.py LiveScreen,
screens/demo.py DemoScreen, screens/replay.py ReplayScreen), builds what
feeds it (a Monitor over the source, or the replay's player), and routes
what the feed posts to it; each screen owns its keys and workflows (the
change workflow is tui/change_flow.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from textual import on
from textual.app import App

from auditop.config import Settings
from auditop.core import feed
from auditop.core.errors import AuditError, as_audit_error
from auditop.core.findings import DEFAULT, Thresholds
from auditop.core.model import Sample
from auditop.core.monitor import Monitor, Snapshot
from auditop.core.sampler import DEFAULT_RATE_HZ
from auditop.core.source import Source
from auditop.tui.messages import MonitorFailed, Notice, Snapshotted
from auditop.tui.screens.fatal import FatalScreen
from auditop.tui.screens.monitor import QUIT, LiveScreen, MonitorScreen
from auditop.tui.screens.plot import PlotScreen
from auditop.tui.screens.producers import ProducersScreen

if TYPE_CHECKING:  # the live TUI starts without the simulator and the replay reader
    from auditop.sources.demo import DemoSource
    from auditop.sources.replay import ReplayPlayer


def tui_bindings() -> list:
    """Every key of every mode's screen, once each (config/specs.py's
    DEFAULT_KEYS must name them all: a test checks)."""
    from auditop.tui.screens.demo import DemoScreen
    from auditop.tui.screens.replay import ReplayScreen
    seen: dict[str, object] = {}
    for screen in (LiveScreen, DemoScreen, ReplayScreen):
        for binding in screen.mode_bindings():
            seen.setdefault(binding.id, binding)
    return list(seen.values())


class AuditopApp(App[int]):
    """Watch the audit backlog; steer backlog_limit.

    Inject either `source` or `source_factory` (called on the sampler's
    thread; an AuditError from it shows the fatal screen), or the
    `startup_error` that kept the caller from making a source; or, for a
    replay, an opened `player` instead of any source. `demo=True` with a
    DemoSource gives the demo's screen. `clock` is the wall clock of the
    title line (a replay shows the recording's); `preload` samples are added
    to History before the first paint (screenshots); `autostart=False` runs
    no sampler (or player) at all. `ask_auditd_state(pid, state letter) ->
    one line` asks auditd for a state report (run on a worker thread; the
    live one is probes/auditd_state.py's request_state, which refuses for a
    stopped auditd); None disables `i`.
    """

    CSS_PATH = "auditop.tcss"
    TITLE = "auditop"
    ENABLE_COMMAND_PALETTE = False
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal"), (34, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-normal"), (110, "-wide")]
    BINDINGS = [QUIT]

    def __init__(self, *, source: Source | None = None,
                 source_factory: Callable[[], Source] | None = None,
                 interval: float = 1.0, sample_rate: float = DEFAULT_RATE_HZ,
                 read_only: bool = False, clock: Callable[[], float] = time.time,
                 change_log: Path | None = None, thresholds: Thresholds = DEFAULT,
                 preload: Sequence[Sample] = (), autostart: bool = True,
                 startup_error: AuditError | None = None,
                 keymap: Mapping[str, str] | None = None,
                 backlog_limit_step: int = 2, demo: bool = False,
                 player: ReplayPlayer | None = None,
                 ask_auditd_state: Callable[[int | None, str | None], str] | None = None
                 ) -> None:
        super().__init__()
        if (source is None and source_factory is None and startup_error is None
                and player is None):
            raise ValueError("give a source, a source_factory or a player")
        if demo:
            from auditop.sources.demo import DemoSource
            if not isinstance(source, DemoSource):
                raise ValueError("demo mode runs on a DemoSource")
        self.demo: DemoSource | None = source if demo else None
        self.player = player
        self.source = source
        self._source_factory = source_factory
        self._interval = interval
        self.sample_rate = sample_rate
        self.read_only = read_only
        self.change_log = change_log
        self.thresholds = thresholds
        self.monitor: Monitor | None = None
        self.snapshot: Snapshot | None = None
        self._preload = list(preload)
        self._autostart = autostart
        self._startup_error = startup_error
        self._user_keymap = dict(keymap or {})  # binding id -> keys, from the config file
        self.main = self._main_screen(clock, ask_auditd_state, backlog_limit_step)

    def get_driver_class(self):
        # On a Linux terminal, a driver whose input thread sleeps until a
        # key (tui/driver.py); anything else (TEXTUAL_DRIVER, the web
        # view's driver, other systems) as Textual chooses.
        from textual import constants
        from textual.drivers.linux_driver import LinuxDriver
        driver = super().get_driver_class()
        if driver is LinuxDriver and constants.DRIVER is None:
            from auditop.tui.driver import QuietLinuxDriver
            return QuietLinuxDriver
        return driver

    def _main_screen(self, clock, ask_auditd_state, step) -> MonitorScreen:
        if self.player is not None:
            from auditop.tui.screens.replay import ReplayScreen
            return ReplayScreen(self.player, clock=clock)
        if self.demo is not None:
            from auditop.tui.screens.demo import DemoScreen
            return DemoScreen(self.demo, clock=clock, backlog_limit_step=step)
        return LiveScreen(clock=clock, ask_auditd_state=ask_auditd_state,
                          backlog_limit_step=step)

    def get_default_screen(self) -> MonitorScreen:
        return self.main  # the mode's screen is the app's first

    @property
    def history(self):
        """The Monitor's History (read it; only the Monitor's thread writes it)."""
        return self.monitor.history

    @property
    def mode(self) -> str:
        return self.main.mode

    # The main screen's state, for the tests and the screenshots script.
    @property
    def paused(self) -> bool:
        return self.main.paused

    @property
    def view(self):
        return self.main.view

    # -- routing -------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self._user_keymap:
            self.set_keymap(self._user_keymap)  # the footer and the help show these keys
        if self.player is not None:
            self.player.connect(self._post_event)
            self._show(self.player.snapshot())
            if self._autostart:
                self.player.start()
            return
        if self._startup_error is None and self.source is None:
            try:
                self.source = self._source_factory()
            except AuditError as error:
                self._startup_error = error
        if self._startup_error is not None:
            self._fatal(self._startup_error)
            return
        self.monitor = Monitor(self.source, interval=self._interval,
                               rate_hz=self.sample_rate, thresholds=self.thresholds)
        self.monitor.connect(self._post_event)
        self._show(self.monitor.add(self._preload))
        if self._autostart:
            self.monitor.start()

    def _post_event(self, event: feed.Event) -> None:
        """On the feed's thread: each event becomes a message."""
        if isinstance(event, feed.Failure):
            self.post_message(MonitorFailed(as_audit_error(event.error)))
        elif isinstance(event, feed.Notice):
            self.post_message(Notice(event.text))
        else:
            self.post_message(Snapshotted(event))

    def _show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.main.show(snapshot)

    @on(Snapshotted)
    def _on_snapshot(self, message: Snapshotted) -> None:
        self._show(message.snapshot)
        if isinstance(self.screen, (PlotScreen, ProducersScreen)):
            self.screen.redraw()

    @on(Notice)
    def _on_notice(self, message: Notice) -> None:
        self.notify(message.text, title=self.mode, timeout=5)

    @on(MonitorFailed)
    def _on_monitor_failed(self, message: MonitorFailed) -> None:
        self._fatal(message.error)

    def _fatal(self, error: AuditError) -> None:
        if not isinstance(self.screen, FatalScreen):
            self.push_screen(FatalScreen(error))

    def on_unmount(self) -> None:
        # Neither waits: a poll the kernel holds is a child process's problem.
        if self.monitor is not None:
            self.monitor.stop()
        if self.player is not None:
            self.player.stop()
        if self.source is not None:
            self.source.close()


def _ask_live_auditd(pid: int | None, letter: str | None) -> str:
    from auditop.probes.auditd_state import auditd_version, request_state

    return request_state(pid, letter, auditd_version())


def run(settings: Settings, *, producers: bool = False) -> int:
    """Run the TUI on the live kernel with the resolved settings (auditop/config);
    the process exit code. `producers`: the who row, from the audit multicast
    group (asked for: leaving the group on quit logs a record, and while the
    backlog is over its limit the kernel holds the process for
    backlog_wait_time, as it holds any sender; measured in the throttle lab,
    quit took 4.2 s instead of under 2)."""
    from auditop.sources.live import LiveSource  # pyroute2 only here

    source, error = None, None
    try:
        source = LiveSource(producers=producers, ticker=True)  # who: when asked for
    except AuditError as exc:
        error = exc  # shown on the fatal screen, which says what is needed
    app = AuditopApp(source=source, startup_error=error, interval=settings.interval,
                     sample_rate=settings.sample_rate, read_only=settings.read_only,
                     thresholds=settings.thresholds, keymap=settings.keymap,
                     backlog_limit_step=settings.backlog_limit_step,
                     ask_auditd_state=None if settings.read_only else _ask_live_auditd)
    app.run()
    return app.return_code or 0
