"""The monitoring screen of every mode, and the live one.

MonitorScreen lays out what every mode shows (title, summary, banner,
charts, findings) and renders the snapshot the app hands it with `show()`;
its keys are the ones every mode has (help, pause, chart, quit). LiveScreen
adds what a real machine allows: the change keys (through ChangeFlow), the
display interval and asking auditd for its state report. The demo's screen
(screens/demo.py) is a LiveScreen with the simulator's keys; the replay's
(screens/replay.py) a MonitorScreen with a player's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static

from auditop.core.errors import AuditLocked, NotPrivileged
from auditop.core.findings import Finding
from auditop.export.plot import PlotPoint, window_points
from auditop.tui.change_flow import CHANGE_ACTIONS, ChangeFlow
from auditop.tui.messages import ChangeApplied, ChangeFailed, StateAsked
from auditop.tui.screens.finding import FindingScreen
from auditop.tui.screens.help import HelpScreen, help_rows
from auditop.tui.screens.plot import PlotScreen
from auditop.tui.screens.producers import ProducersScreen
from auditop.tui.view import View, build_view
from auditop.tui.widgets.charts import Charts
from auditop.tui.widgets.findings import FindingsList, finding_detail
from auditop.tui.widgets.keys import ModeKeys
from auditop.tui.widgets.summary import Banner, Summary, TitleBar

if TYPE_CHECKING:
    from auditop.core.monitor import Snapshot
    from auditop.sources.replay import ReplayState

# On the app, so that a remapped quit and Textual's own ctrl+q are one key.
QUIT = Binding("q", "quit", "quit", tooltip="quit auditop", id="quit")
INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0)  # display interval steps for [ and ]
WINDOW_KEYS = Binding.Group("window")
LIMIT_KEYS = Binding.Group("limit×2÷2")  # + and - share one footer item: room for i


class MonitorScreen(Screen):
    """What every mode shows, rendered from the newest snapshot."""

    mode = "live"
    key_prefix: str | None = None  # a mode's own keys, shown on their own line

    BINDINGS = [
        Binding("question_mark", "help", "help", tooltip="this help: every key",
                id="help"),
        Binding("p", "pause", "pause", tooltip="pause / resume the display (sampling goes "
                "on)", id="pause"),
        Binding("g", "plot", "plot", tooltip="a full-screen chart of the history so far",
                id="plot"),
        Binding("W", "producers", "who", tooltip="who fills the queue: records by rule key, "
                "process, executable, type, syscall, login user and rule", id="producers",
                show=False),
    ]

    def __init__(self, *, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock
        self.snapshot: Snapshot | None = None
        self.view: View | None = None
        self.paused = False
        self._blocked_shown: str | None = None
        self._detail_shown: Finding | None = None

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield Summary(id="summary")
        yield Banner(id="banner")
        yield from self.compose_under_banner()
        yield Charts(id="charts")
        with Horizontal(id="lower"):
            yield FindingsList(id="findings")
            yield Static("", id="finding-detail")
        if self.key_prefix is not None:
            yield ModeKeys(self.key_prefix, self.mode, id="mode-keys")
        yield Footer(compact=True, show_command_palette=False)

    def compose_under_banner(self) -> ComposeResult:
        """A mode's own row under the banner (the demo's tour)."""
        yield from ()

    @classmethod
    def mode_bindings(cls) -> list[Binding]:
        """This mode's keys, in the order the footer and the help give them."""
        declared: list[Binding] = [QUIT]
        for klass in reversed(cls.__mro__):  # Textual merges them in this order too
            if klass.__module__.startswith("auditop."):  # not Textual's focus keys
                declared += klass.__dict__.get("BINDINGS", [])
        return declared

    # -- data in ---------------------------------------------------------------------

    def show(self, snapshot: Snapshot) -> None:
        """The app's newest snapshot: rendered unless the display is paused."""
        self.snapshot = snapshot
        if self.is_mounted:
            self.refresh_view()

    def on_mount(self) -> None:
        if self.snapshot is not None:
            self.refresh_view()

    # -- data out ----------------------------------------------------------------

    def blocked(self) -> str | None:
        """Why kernel changes are unavailable now (shown in the title line)."""
        return None

    def replay_state(self) -> ReplayState | None:
        return None

    def build(self, snapshot: Snapshot) -> View:
        latest = snapshot.latest
        replay = self.replay_state()
        return build_view(snapshot, paused=replay.paused if replay else self.paused,
                          now=latest.time if replay and latest else self.clock(),
                          read_only=getattr(self.app, "read_only", False),
                          blocked=self.blocked(), demo=self.mode == "demo", replay=replay,
                          can_ask_state=self.can_ask_state())

    def can_ask_state(self) -> bool:
        return False

    def refresh_view(self) -> None:
        if self.snapshot is None:
            return
        view = self.build(self.snapshot)
        self.view = view
        self.query_one(TitleBar).view = view
        # Paused, the banner stays with the numbers it was shown beside: a
        # sentence comes from the same snapshot as the numbers next to it.
        if self.replay_state() is not None or not self.paused:  # a paused replay steps
            self.query_one(Banner).view = view
            self.query_one(Summary).view = view
            self.query_one(Charts).view = view
            self.query_one(FindingsList).show(view.findings)
            self._show_detail()
        blocked = self.blocked()
        if blocked != self._blocked_shown:
            self._blocked_shown = blocked
            self.refresh_bindings()

    # -- keys ----------------------------------------------------------------------

    def action_help(self) -> None:
        # Asked now, while this screen's bindings are the active ones.
        self.app.push_screen(HelpScreen(help_rows(self.mode_bindings(), self.app)))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.refresh_view()

    def action_plot(self) -> None:
        self.app.push_screen(PlotScreen(self.plot_points))

    def action_producers(self) -> None:
        self.app.push_screen(ProducersScreen(self.shown_producers))

    def shown_producers(self):
        """The producers of the newest snapshot (the recording's, in a replay)
        and how old they are."""
        snapshot = self.snapshot
        if snapshot is None:
            return None, 0.0
        return snapshot.producers, snapshot.producers_age

    def plot_points(self) -> list[PlotPoint]:
        return window_points(self.snapshot.windows if self.snapshot else ())

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
            self.app.push_screen(FindingScreen(finding))


class LiveScreen(MonitorScreen):
    """A real machine's screen (and the demo's): changes, interval, auditd."""

    BINDINGS = [
        Binding("plus", "double", "limit×2", tooltip="propose doubling "
                "backlog_limit", id="double", group=LIMIT_KEYS),
        Binding("minus", "halve", "limit÷2", tooltip="propose halving "
                "backlog_limit", id="halve", group=LIMIT_KEYS),
        Binding("b", "exact", "exact", tooltip="propose an exact backlog_limit",
                id="exact"),
        Binding("u", "restore", "start", tooltip="propose restoring the "
                "backlog_limit auditop found at start", id="restore"),
        Binding("left_square_bracket", "interval(-1)", "shorter",
                tooltip="shorter display interval (0.5, 1, 2, 5, 10 s)",
                id="interval.shorter", group=WINDOW_KEYS),
        Binding("right_square_bracket", "interval(1)", "longer",
                tooltip="longer display interval (0.5, 1, 2, 5, 10 s)",
                id="interval.longer", group=WINDOW_KEYS),
        Binding("i", "auditd_state", "auditd", tooltip="ask auditd for its state report "
                "(never a stopped auditd)", id="auditd-state"),
    ]

    def __init__(self, *, clock: Callable[[], float],
                 ask_auditd_state: Callable[[int | None, str | None], str] | None = None,
                 backlog_limit_step: int = 2) -> None:
        super().__init__(clock=clock)
        self.denied: str | None = None  # why the kernel refused a change (privilege, lock)
        self._ask_auditd_state = ask_auditd_state
        self.changes = ChangeFlow(self, snapshot=lambda: self.snapshot,
                                  monitor=lambda: self.app.monitor, change_log=None,
                                  step=backlog_limit_step)

    def on_mount(self) -> None:
        self.changes.change_log = self.app.change_log  # the app's, known once attached
        super().on_mount()

    def blocked(self) -> str | None:
        if self.app.read_only:
            return "read-only (--read-only)"
        if self.denied:
            return self.denied
        status = self.snapshot.status if self.snapshot else None
        if status is None:
            return "no answer from the kernel yet"
        if status.enabled == 2:
            return "audit is locked (enabled 2) until reboot"
        return None

    def can_ask_state(self) -> bool:
        return self._ask_auditd_state is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CHANGE_ACTIONS and self.blocked():
            return None  # shown, dimmed: the title line says why
        if action == "auditd_state" and (self.app.read_only or self._ask_auditd_state is None):
            return None  # a signal to auditd: not in read-only mode
        return True

    def action_double(self) -> None:
        self.changes.propose("double")

    def action_halve(self) -> None:
        self.changes.propose("halve")

    def action_exact(self) -> None:
        self.changes.propose("exact")

    def action_restore(self) -> None:
        self.changes.propose("restore")

    def action_interval(self, direction: int) -> None:
        now = self.snapshot.interval
        if direction < 0:
            shorter = [s for s in INTERVALS if s < now - 1e-9]
            new = shorter[-1] if shorter else INTERVALS[0]
        else:
            longer = [s for s in INTERVALS if s > now + 1e-9]
            new = longer[0] if longer else INTERVALS[-1]
        self.app.monitor.set_interval(new)  # applies from the next window; a snapshot says so

    def action_auditd_state(self) -> None:
        """Ask auditd for a state report, on a worker: auditctl may be held by
        the kernel. A stopped auditd is not signalled; the notice says why."""
        status = self.snapshot.status if self.snapshot else None
        system = self.snapshot.system if self.snapshot else None
        process = system.auditd if system else None
        pid, letter = status.pid if status else None, process.state if process else None
        self.run_worker(lambda: self.post_message(StateAsked(self._ask_auditd_state(
                            pid, letter))),
                        thread=True, group="auditd-state", exclusive=True,
                        exit_on_error=False, name="ask auditd for a state report")

    @on(StateAsked)
    def _on_state_asked(self, message: StateAsked) -> None:
        asked = message.said.startswith("asked")
        self.notify(message.said, title="auditd state report",
                    severity="information" if asked else "warning", timeout=8)

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
            self.refresh_view()
        if message.logged:
            self.notify(message.logged, severity="warning")


__all__ = ["CHANGE_ACTIONS", "INTERVALS", "LiveScreen", "MonitorScreen"]
