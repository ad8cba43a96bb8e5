"""The TUI: `auditop` (live), `auditop --demo` and `auditop replay FILE`.

Data flows one way:

    Monitor (its own threads: sampling, History, findings) --Snapshotted--> View -> widgets
    or ReplayPlayer (a recording's windows, at its pace)   --Snapshotted--> View -> widgets

The app renders the snapshots it is posted and nothing else: a steady
screen costs a message per window. Live and demo run a Monitor over their
source (the kernel, the simulator); a replay gives the app its player
instead (`player=`), and the keys of each mode come from tui/modes.py.
Changes (backlog_limit) are proposed by keys (core/changes.py), confirmed in a dialog (twice, naming the panic, when
failure = 2 and the change can lose records), applied on a thread worker by
the Monitor's change path, read back from the kernel's next answer, notified
and logged.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static

from auditop.changelog import append_change
from auditop.config import Settings
from auditop.core import changes, feed
from auditop.core.changes import FIELD, NoProposal, Proposal
from auditop.core.errors import AuditError, AuditLocked, NotPrivileged, as_audit_error
from auditop.core.findings import DEFAULT, Finding, Thresholds
from auditop.core.model import Sample
from auditop.core.monitor import Monitor, Snapshot
from auditop.core.sampler import DEFAULT_RATE_HZ
from auditop.core.source import Source
from auditop.export.plot import PlotPoint, window_points
from auditop.tui.messages import (ChangeApplied, ChangeFailed, MonitorFailed, Notice,
                                  Snapshotted, StateAsked)
from auditop.tui.modes import (DEMO_ACTION_NAMES, DEMO_BINDINGS, DEMO_PREFIX,
                               REPLAY_ACTION_NAMES, REPLAY_BINDINGS, REPLAY_PREFIX,
                               ModeActions, mode_of)
from auditop.tui.screens.confirm import ConfirmScreen, PanicConfirmScreen
from auditop.tui.screens.fatal import FatalScreen
from auditop.tui.screens.finding import FindingScreen
from auditop.tui.screens.help import HelpScreen, help_rows
from auditop.tui.screens.plot import PlotScreen
from auditop.tui.screens.value import ValueScreen
from auditop.tui.view import View, build_view
from auditop.tui.widgets.charts import Charts
from auditop.tui.widgets.findings import FindingsList, finding_detail
from auditop.tui.widgets.keys import ModeKeys
from auditop.tui.widgets.summary import Banner, Summary, TitleBar

if TYPE_CHECKING:  # the live TUI starts without the simulator and the replay reader
    from auditop.sources.demo import DemoSource
    from auditop.sources.replay import ReplayPlayer

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0)  # display interval steps for [ and ]
CHANGE_ACTIONS = frozenset({"double", "halve", "exact", "restore"})
WINDOW_KEYS = Binding.Group("window")
LIMIT_KEYS = Binding.Group("limit×2÷2")  # + and - share one footer item: room for i


class AuditopApp(ModeActions, App[int]):
    """Watch the audit backlog; steer backlog_limit.

    Inject either `source` or `source_factory` (called on the sampler's
    thread; an AuditError from it shows the fatal screen), or the
    `startup_error` that kept the caller from making a source; or, for a
    replay, an opened `player` instead of any source. `demo=True` with a
    DemoSource adds the demo's keys. `clock` is the wall clock of the title
    line (a replay shows the recording's); `preload` samples are added to
    History before the first paint (screenshots); `autostart=False` runs no
    sampler (or player) at all. `ask_auditd_state(pid, state letter) -> one
    line` asks auditd for a state report (run on a worker thread; the live one
    is probes/auditd_state.py's request_state, which refuses for a stopped
    auditd); None disables `s`.
    """

    CSS_PATH = "auditop.tcss"
    TITLE = "auditop"
    ENABLE_COMMAND_PALETTE = False
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal"), (34, "-tall")]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-normal"), (110, "-wide")]

    BINDINGS = [
        Binding("q", "quit", "quit", tooltip="quit auditop", id="quit"),
        Binding("question_mark", "help", "help", tooltip="this help: every key",
                id="help"),
        Binding("p", "pause", "pause", tooltip="pause / resume the display (sampling goes "
                "on)", id="pause"),
        Binding("plus", "double", "limit×2", tooltip="propose doubling backlog_limit",
                id="double", group=LIMIT_KEYS),
        Binding("minus", "halve", "limit÷2", tooltip="propose halving backlog_limit",
                id="halve", group=LIMIT_KEYS),
        Binding("b", "exact", "exact", tooltip="propose an exact backlog_limit",
                id="exact"),
        Binding("u", "restore", "start", tooltip="propose restoring the backlog_limit "
                "auditop found at start", id="restore"),
        Binding("left_square_bracket", "interval(-1)", "shorter",
                tooltip="shorter display interval (0.5, 1, 2, 5, 10 s)",
                id="interval.shorter", group=WINDOW_KEYS),
        Binding("right_square_bracket", "interval(1)", "longer",
                tooltip="longer display interval (0.5, 1, 2, 5, 10 s)",
                id="interval.longer", group=WINDOW_KEYS),
        Binding("g", "plot", "plot", tooltip="a full-screen chart of the history so far",
                id="plot"),
        Binding("i", "auditd_state", "auditd", tooltip="ask auditd for its state report "
                "(never a stopped auditd)", id="auditd-state"),
        *DEMO_BINDINGS,
        *REPLAY_BINDINGS,
    ]

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
        self.clock = clock
        self.change_log = change_log
        self.thresholds = thresholds
        self.monitor: Monitor | None = None
        self.snapshot: Snapshot | None = None
        self.paused = False
        self.denied: str | None = None  # why the kernel refused a change (privilege, lock)
        self.view: View | None = None
        self._preload = list(preload)
        self._autostart = autostart
        self._blocked_shown: str | None = None
        self._detail_shown: Finding | None = None
        self._startup_error = startup_error
        self._user_keymap = dict(keymap or {})  # binding id -> keys, from the config file
        self.backlog_limit_step = backlog_limit_step
        self._ask_auditd_state = ask_auditd_state

    @property
    def history(self):
        """The Monitor's History (read it; only the Monitor's thread writes it)."""
        return self.monitor.history

    @property
    def mode(self) -> str:
        return "replay" if self.player else "demo" if self.demo else "live"

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield Summary(id="summary")
        yield Banner(id="banner")
        yield Charts(id="charts")
        with Horizontal(id="lower"):
            yield FindingsList(id="findings")
            yield Static("", id="finding-detail")
        if self.mode != "live":
            prefix = DEMO_PREFIX if self.demo else REPLAY_PREFIX
            yield ModeKeys(prefix, self.mode, id="mode-keys")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        if self._user_keymap:
            self.set_keymap(self._user_keymap)  # the footer and the help show these keys
        if self.player is not None:
            self.player.connect(self._post_event)
            self.snapshot = self.player.snapshot()
            self._refresh_view()
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
        self.snapshot = self.monitor.add(self._preload)
        self._refresh_view()
        if self.demo is not None:
            self.check_demo_panic()  # a preloaded demo may have panicked already
        if self._autostart:
            self.monitor.start()

    # -- data in -----------------------------------------------------------------------

    def _post_event(self, event: feed.Event) -> None:
        """On the feed's thread: each event becomes a message."""
        if isinstance(event, feed.Failure):
            self.post_message(MonitorFailed(as_audit_error(event.error)))
        elif isinstance(event, feed.Notice):
            self.post_message(Notice(event.text))
        else:
            self.post_message(Snapshotted(event))

    @on(Snapshotted)
    def _on_snapshot(self, message: Snapshotted) -> None:
        self.snapshot = message.snapshot
        self._refresh_view()
        if self.demo is not None:
            self.check_demo_panic()
        if isinstance(self.screen, PlotScreen):
            self.screen.redraw()

    @on(Notice)
    def _on_notice(self, message: Notice) -> None:
        self.notify(message.text, title=self.mode, timeout=5)

    @on(MonitorFailed)
    def _on_monitor_failed(self, message: MonitorFailed) -> None:
        self._fatal(message.error)

    # -- data out ----------------------------------------------------------------------

    def _refresh_view(self) -> None:
        if self.snapshot is None:
            return
        blocked = self._change_blocked()
        replay = self.player.state if self.player else None
        latest = self.snapshot.latest
        view = build_view(self.snapshot, paused=replay.paused if replay else self.paused,
                          now=latest.time if replay and latest else self.clock(),
                          read_only=self.read_only, blocked=blocked,
                          demo=self.demo is not None, replay=replay,
                          can_ask_state=self._ask_auditd_state is not None)
        self.view = view
        self.query_one(TitleBar).view = view
        # Paused, the banner stays with the numbers it was shown beside: a
        # sentence comes from the same snapshot as the numbers next to it.
        if replay is not None or not self.paused:  # a paused replay still steps
            self.query_one(Banner).view = view
            self.query_one(Summary).view = view
            self.query_one(Charts).view = view
            self.query_one(FindingsList).show(view.findings)
            self._show_detail()
        if blocked != self._blocked_shown:
            self._blocked_shown = blocked
            self.refresh_bindings()

    def _fatal(self, error: AuditError) -> None:
        if not isinstance(self.screen, FatalScreen):
            self.push_screen(FatalScreen(error))

    # -- what may be done now -----------------------------------------------------------

    def _change_blocked(self) -> str | None:
        if self.player is not None:
            return "replay: no kernel changes"
        if self.read_only:
            return "read-only (--read-only)"
        if self.denied:
            return self.denied
        status = self.snapshot.status if self.snapshot else None
        if status is None:
            return "no answer from the kernel yet"
        if status.enabled == 2:
            return "audit is locked (enabled 2) until reboot"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "quit" and isinstance(self.screen, (ModalScreen, FatalScreen)):
            return False  # a dialog is open: its own keys only
        if action in DEMO_ACTION_NAMES and self.demo is None:
            return False  # a demo key: not here
        if action in REPLAY_ACTION_NAMES and self.player is None:
            return False
        if action == "interval" and self.player is not None:
            return False  # a recording's windows are as they were recorded
        if action in CHANGE_ACTIONS and self._change_blocked():
            return None  # shown, dimmed: the title line says why
        if action == "auditd_state":
            if self.player is not None or self.demo is not None:
                return False  # a recording or the simulator: no auditd to ask
            if self.read_only or self._ask_auditd_state is None:
                return None  # a signal to auditd: not in read-only mode
        return True

    # -- keys ---------------------------------------------------------------------------

    def action_help(self) -> None:
        # Asked now, while this screen's bindings are the active ones.
        self.push_screen(HelpScreen(help_rows(self.mode_bindings(), self)))

    def mode_bindings(self) -> list[Binding]:
        """The keys of this mode: those of every mode, and its own."""
        return [b for b in self.BINDINGS if mode_of(b) in (None, self.mode)
                and not (self.player is not None and b.action.startswith("interval"))]

    def action_pause(self) -> None:
        if self.player is not None:
            self.player.toggle_pause()  # the replay itself stops; its snapshot says so
            return
        self.paused = not self.paused
        self._refresh_view()

    def action_plot(self) -> None:
        self.push_screen(PlotScreen(self._plot_points))

    def _plot_points(self) -> list[PlotPoint]:
        if self.player is not None:
            return [PlotPoint(*point) for point in self.player.plot_points()]
        return window_points(self.snapshot.windows if self.snapshot else ())

    def action_interval(self, direction: int) -> None:
        now = self.snapshot.interval
        if direction < 0:
            shorter = [s for s in INTERVALS if s < now - 1e-9]
            new = shorter[-1] if shorter else INTERVALS[0]
        else:
            longer = [s for s in INTERVALS if s > now + 1e-9]
            new = longer[0] if longer else INTERVALS[-1]
        self.monitor.set_interval(new)  # applies from the next window; a snapshot says so

    def _status(self):
        return self.snapshot.status if self.snapshot else None

    def action_auditd_state(self) -> None:
        """Ask auditd for a state report, on a worker: auditctl may be held by
        the kernel. A stopped auditd is not signalled; the notice says why."""
        status = self._status()
        system = self.snapshot.system if self.snapshot else None
        process = system.auditd if system else None
        self.run_worker(partial(self._ask_state, status.pid if status else None,
                                process.state if process else None),
                        thread=True, group="auditd-state", exclusive=True,
                        exit_on_error=False, name="ask auditd for a state report")

    def _ask_state(self, pid: int | None, letter: str | None) -> None:
        self.post_message(StateAsked(self._ask_auditd_state(pid, letter)))

    @on(StateAsked)
    def _on_state_asked(self, message: StateAsked) -> None:
        asked = message.said.startswith("asked")
        self.notify(message.said, title="auditd state report",
                    severity="information" if asked else "warning", timeout=8)

    def _propose_action(self, action: str) -> None:
        found = self.snapshot.found if self.snapshot else None
        try:
            proposal = changes.propose(action, self._status(),
                                       found=found.backlog_limit if found else None,
                                       step=self.backlog_limit_step)
        except NoProposal as notice:
            self.notify(str(notice), severity="warning" if action != "restore" else
                        "information")
            return
        self._propose(proposal)

    def action_double(self) -> None:
        self._propose_action("double")

    def action_halve(self) -> None:
        self._propose_action("halve")

    def action_restore(self) -> None:
        self._propose_action("restore")

    def action_exact(self) -> None:
        status = self._status()
        old = status.backlog_limit if status else None

        def chosen(value: int | None) -> None:
            if value is not None:
                self._propose(Proposal(FIELD, old, value, "exact value"))
        self.push_screen(ValueScreen(FIELD, old), chosen)

    def _propose(self, proposal: Proposal) -> None:
        risks = changes.risks(proposal, self._status())
        self.push_screen(ConfirmScreen(proposal, risks),
                         partial(self._confirmed, proposal, risks))

    def _confirmed(self, proposal: Proposal, risks: tuple[str, ...], apply: bool | None
                   ) -> None:
        if not apply:
            self.notify(f"cancelled: {proposal.field} unchanged", timeout=3)
            return
        status = self._status()
        if status is not None and status.failure == 2 and risks:
            self.push_screen(PanicConfirmScreen(proposal, risks),
                             partial(self._panic_confirmed, proposal))
            return
        self._start_change(proposal, panic_confirmed=False)

    def _panic_confirmed(self, proposal: Proposal, apply: bool | None) -> None:
        if not apply:
            self.notify(f"cancelled: {proposal.field} unchanged", timeout=3)
            return
        self._start_change(proposal, panic_confirmed=True)

    def _start_change(self, proposal: Proposal, *, panic_confirmed: bool) -> None:
        self.run_worker(partial(self._apply, proposal, panic_confirmed), thread=True,
                        group="change", exit_on_error=False, name=f"set {proposal.field}")

    def _apply(self, proposal: Proposal, panic_confirmed: bool) -> None:
        """On a worker thread: the change path waits for the kernel's read-back."""
        problems: list[str] = []

        def log(field: str, old: int | None, new: int | None, result: str) -> None:
            try:
                append_change(field, old, new, result, path=self.change_log)
            except OSError as error:
                problems.append(f"the change log could not be written: {error}")
        try:
            outcome = self.monitor.change(proposal, panic_confirmed=panic_confirmed, log=log)
        except AuditError as error:
            self.post_message(ChangeFailed(proposal, error, problems[0] if problems else None))
            return
        self.post_message(ChangeApplied(outcome, problems[0] if problems else None))

    @on(ChangeApplied)
    def _on_applied(self, message: ChangeApplied) -> None:
        outcome = message.outcome
        self.notify(outcome.text(), title="applied" if outcome.as_asked else
                    "applied, not as asked" if outcome.new is not None else "applied",
                    severity="information" if outcome.as_asked else "warning")
        if message.logged:
            self.notify(message.logged, severity="warning")

    @on(ChangeFailed)
    def _on_failed(self, message: ChangeFailed) -> None:
        self.notify(f"{message.proposal.field} unchanged: {message.error}",
                    title="change failed", severity="error", timeout=10)
        if isinstance(message.error, (NotPrivileged, AuditLocked)):
            self.denied = ("not privileged (needs CAP_AUDIT_CONTROL)"
                           if isinstance(message.error, NotPrivileged)
                           else "audit is locked until reboot")
            self._refresh_view()
        if message.logged:
            self.notify(message.logged, severity="warning")

    @on(OptionList.OptionHighlighted, "#findings")
    def _show_detail(self) -> None:
        """Wide screens explain the highlighted finding beside the list."""
        findings = self.query_one(FindingsList)
        option = findings.highlighted_option
        finding = findings.finding(option.id) if option else None
        if finding == self._detail_shown:
            return  # Static.update() asks for a new layout of the whole screen
        self._detail_shown = finding
        self.query_one("#finding-detail", Static).update(
            finding_detail(finding) if finding else "")

    @on(OptionList.OptionSelected, "#findings")
    def _explain(self, event: OptionList.OptionSelected) -> None:
        finding = self.query_one(FindingsList).finding(event.option.id)
        if finding is not None:
            self.push_screen(FindingScreen(finding))

    # -- shutdown ---------------------------------------------------------------------

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


def run(settings: Settings) -> int:
    """Run the TUI on the live kernel with the resolved settings (auditop/config);
    the process exit code."""
    from auditop.sources.live import LiveSource  # pyroute2 only here

    source, error = None, None
    try:
        source = LiveSource()
    except AuditError as exc:
        error = exc  # shown on the fatal screen, which says what is needed
    app = AuditopApp(source=source, startup_error=error, interval=settings.interval,
                     sample_rate=settings.sample_rate, read_only=settings.read_only,
                     thresholds=settings.thresholds, keymap=settings.keymap,
                     backlog_limit_step=settings.backlog_limit_step,
                     ask_auditd_state=None if settings.read_only else _ask_live_auditd)
    app.run()
    return app.return_code or 0
