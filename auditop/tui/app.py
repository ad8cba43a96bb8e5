"""The live TUI: `auditop` with no arguments.

Data flows one way:

    Sampler thread (worker) --Sampled--> History --window--> evaluate -> View -> widgets

The sampler polls the source on a thread worker, one poll in flight, and
posts its Samples as messages, a quarter second's worth at a time. History
keeps the backlog peak of every display window; the widgets are refreshed
only when a window closes or the app's own state changes (pause, a silent
kernel, a change blocked), so a steady screen costs almost nothing. A
watchdog, re-armed by every batch, fires only when a batch is late: it asks
the sampler how long the poll under way has taken and, past the stall
threshold, records a "no answer" sample at once (then every 0.25 s), so the
screen says "kernel not answering" while the kernel still holds the poller.

Changes (backlog_limit) are proposed by keys, confirmed in a dialog, applied
on a thread worker (set() may block), read back, notified and logged.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.containers import Horizontal
from textual.widgets import Footer, OptionList, Static

from auditop.changelog import append_change
from auditop.core.findings import DEFAULT, Finding, Thresholds, evaluate
from auditop.core.history import History
from auditop.core.model import Sample
from auditop.core.sampler import DEFAULT_RATE_HZ, STALL_SECONDS, Sampler
from auditop.core.settings import U32_MAX
from auditop.kernel.errors import AuditError, AuditLocked, NotPrivileged
from auditop.sources import Source
from auditop.tui.messages import ChangeApplied, ChangeFailed, SamplerFailed, Sampled
from auditop.tui.screens.confirm import ConfirmScreen, Proposal
from auditop.tui.screens.fatal import FatalScreen
from auditop.tui.screens.finding import FindingScreen
from auditop.tui.screens.help import HelpScreen
from auditop.tui.screens.value import ValueScreen
from auditop.tui.view import View, build_view
from auditop.tui.widgets.charts import Charts
from auditop.tui.widgets.findings import FindingsList, finding_detail
from auditop.tui.widgets.summary import Banner, Summary, TitleBar

FIELD = "backlog_limit"  # the one setting the TUI steers
INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0)  # display interval steps for [ and ]
DELIVERY_PERIOD = 0.25  # seconds of samples per Sampled message
STALL_CHECK = 0.25  # while the kernel is silent, how often the screen says so
CHANGE_ACTIONS = frozenset({"double", "halve", "exact", "restore"})


class AuditopApp(App[int]):
    """Watch the audit backlog; steer backlog_limit.

    Inject either `source` or `source_factory` (called on the sampler's
    thread; an AuditError from it shows the fatal screen), or the
    `startup_error` that kept the caller from making a source. `clock` is the wall clock of
    the title line; `preload` samples are added to History before the first
    paint (screenshots); `autostart=False` runs no sampler at all.
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
        Binding("p", "pause", "pause", tooltip="pause / resume the display (sampling "
                "goes on, nothing is lost)", id="pause"),
        Binding("plus", "double", "limit×2", tooltip="propose doubling backlog_limit",
                id="double"),
        Binding("minus", "halve", "limit÷2", tooltip="propose halving backlog_limit",
                id="halve"),
        Binding("b", "exact", "set limit", tooltip="propose an exact backlog_limit",
                id="exact"),
        Binding("u", "restore", "undo", tooltip="propose restoring the backlog_limit "
                "auditop found at start", id="restore"),
        Binding("left_square_bracket", "interval(-1)", "faster",
                tooltip="shorter display interval (0.5, 1, 2, 5, 10 s)",
                id="interval.shorter"),
        Binding("right_square_bracket", "interval(1)", "slower",
                tooltip="longer display interval (0.5, 1, 2, 5, 10 s)",
                id="interval.longer"),
    ]

    def __init__(self, *, source: Source | None = None,
                 source_factory: Callable[[], Source] | None = None,
                 interval: float = 1.0, sample_rate: float = DEFAULT_RATE_HZ,
                 read_only: bool = False, clock: Callable[[], float] = time.time,
                 change_log: Path | None = None, thresholds: Thresholds = DEFAULT,
                 preload: Sequence[Sample] = (), autostart: bool = True,
                 startup_error: AuditError | None = None) -> None:
        super().__init__()
        if source is None and source_factory is None and startup_error is None:
            raise ValueError("give a source or a source_factory")
        self.source = source
        self._source_factory = source_factory
        self.history = History(interval)
        self.sample_rate = sample_rate
        self.read_only = read_only
        self.clock = clock
        self.change_log = change_log
        self.thresholds = thresholds
        self.sampler: Sampler | None = None
        self.paused = False
        self.found_limit: int | None = None  # backlog_limit when auditop started
        self.denied: str | None = None  # why the kernel refused a change (privilege, lock)
        self.view: View | None = None
        self._preload = list(preload)
        self._autostart = autostart
        self._blocked_shown: str | None = None
        self._silence_shown = -1
        self._detail_shown: Finding | None = None
        self._batch: list[Sample] = []  # the sampler thread's, until posted
        self._watchdog: asyncio.TimerHandle | None = None
        self._stopping = False
        self._sampler_done = threading.Event()
        self._startup_error = startup_error

    # -- layout ------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TitleBar(id="title")
        yield Summary(id="summary")
        yield Banner(id="banner")
        yield Charts(id="charts")
        with Horizontal(id="lower"):
            yield FindingsList(id="findings")
            yield Static("", id="finding-detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        for sample in self._preload:
            self._record(sample)
        self._refresh_view()
        if self._startup_error is not None:
            self._fatal(self._startup_error)
        elif self._autostart:
            self._start_sampling()

    def _start_sampling(self) -> None:
        self.run_worker(self._sample, thread=True, exclusive=True, exit_on_error=False,
                        group="sampler", name="sampler")
        self._arm_watchdog(DELIVERY_PERIOD + STALL_SECONDS)

    def _sample(self) -> None:
        """The sampler's thread. The source is made here too: the live one
        opens its netlink socket with an event loop of its own, which cannot
        run inside the UI's."""
        if self.source is None:
            try:
                self.source = self._source_factory()
            except AuditError as error:
                self._fail(error)
                return
        sampler = Sampler(self.source, self.sample_rate)
        self.sampler = sampler
        try:
            if not self._stopping:
                sampler.run(self._deliver, self._fail)
        finally:
            self._sampler_done.set()

    # -- the sampler's thread: post only --------------------------------------------

    def _deliver(self, sample: Sample) -> None:
        self._batch.append(sample)
        if sample.mono - self._batch[0].mono >= DELIVERY_PERIOD or sample.status is None:
            batch, self._batch = tuple(self._batch), []
            self.post_message(Sampled(batch))

    def _fail(self, error: AuditError) -> None:
        self.post_message(SamplerFailed(error))

    # -- data in -----------------------------------------------------------------------

    @on(Sampled)
    def _on_sampled(self, message: Sampled) -> None:
        for sample in message.samples:
            self._take(sample)
        # Fires only when the next batch is late, i.e. when the kernel holds
        # the poller: a steady screen has no timer waking it (CPU budget).
        self._arm_watchdog(DELIVERY_PERIOD + STALL_SECONDS)

    def _arm_watchdog(self, delay: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = asyncio.get_running_loop().call_later(delay, self._check_stall)

    @on(SamplerFailed)
    def _on_sampler_failed(self, message: SamplerFailed) -> None:
        self._fatal(message.error)

    def _check_stall(self) -> None:
        self._arm_watchdog(STALL_CHECK)  # until the next batch re-arms it later
        if self.sampler is None:
            return
        stall = self.sampler.stall_sample(max(2 * self.sampler.period, STALL_SECONDS))
        if stall is not None:
            self._take(stall)
        elif self.history.tick(time.monotonic()) is not None:
            self._refresh_view()  # a window closed on time, though the kernel is silent

    def _record(self, sample: Sample) -> bool:
        """Add to History; True when the screen needs a refresh."""
        was_silent = self.history.latest is not None and self.history.latest.status is None
        window = self.history.add(sample)
        first = False
        if sample.status is not None and self.found_limit is None:
            self.found_limit = sample.status.backlog_limit
            first = True
        silent = sample.status is None
        return (window is not None or first or silent != was_silent
                or self._change_blocked() != self._blocked_shown)

    def _take(self, sample: Sample) -> None:
        refresh = self._record(sample)
        if sample.status is None and int(self.history.silent_seconds) != self._silence_shown:
            refresh = True  # the "not answering for N s" count moves once a second
        if refresh:
            self._refresh_view()

    # -- data out ----------------------------------------------------------------------

    def _refresh_view(self) -> None:
        blocked = self._change_blocked()
        view = build_view(self.history, evaluate(self.history, self.thresholds),
                          now=self.clock(), paused=self.paused,
                          sample_rate=self.sample_rate, read_only=self.read_only,
                          blocked=blocked, found_limit=self.found_limit)
        self.view = view
        self._silence_shown = int(self.history.silent_seconds) if view.stale else -1
        self.query_one(TitleBar).view = view
        self.query_one(Banner).view = view
        if not self.paused:
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
        if self.read_only:
            return "read-only (--read-only)"
        if self.denied:
            return self.denied
        answered = self.history.last_answered
        if answered is None:
            return "no answer from the kernel yet"
        if answered.status.enabled == 2:
            return "audit is locked (enabled 2) until reboot"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "quit" and isinstance(self.screen, (ModalScreen, FatalScreen)):
            return False  # a dialog is open: its own keys only
        if action in CHANGE_ACTIONS and self._change_blocked():
            return None  # shown, dimmed: the title line says why
        return True

    # -- keys ---------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(list(self.BINDINGS)))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._refresh_view()

    def action_interval(self, direction: int) -> None:
        now = self.history.interval
        if direction < 0:
            shorter = [s for s in INTERVALS if s < now - 1e-9]
            new = shorter[-1] if shorter else INTERVALS[0]
        else:
            longer = [s for s in INTERVALS if s > now + 1e-9]
            new = longer[0] if longer else INTERVALS[-1]
        self.history.interval = new  # applies from the next window
        self._refresh_view()

    def _current_limit(self) -> int | None:
        answered = self.history.last_answered
        return answered.status.backlog_limit if answered else None

    def action_double(self) -> None:
        old = self._current_limit()
        if old is None:
            return
        if old == 0:
            self.notify("backlog_limit is 0 (unlimited): press b to set a value",
                        severity="warning")
            return
        self._propose(Proposal(FIELD, old, min(old * 2, U32_MAX), "double"))

    def action_halve(self) -> None:
        old = self._current_limit()
        if old is None:
            return
        if old <= 1:
            self.notify(f"backlog_limit is {old}: it cannot be halved", severity="warning")
            return
        self._propose(Proposal(FIELD, old, old // 2, "halve"))

    def action_exact(self) -> None:
        old = self._current_limit()

        def chosen(value: int | None) -> None:
            if value is not None:
                self._propose(Proposal(FIELD, old, value, "exact value"))
        self.push_screen(ValueScreen(FIELD, old), chosen)

    def action_restore(self) -> None:
        old, found = self._current_limit(), self.found_limit
        if found is None:
            return
        if old == found:
            self.notify(f"backlog_limit is already {found}, the value found at start")
            return
        self._propose(Proposal(FIELD, old, found, "restore the value found at start"))

    def _propose(self, proposal: Proposal) -> None:
        self.push_screen(ConfirmScreen(proposal), partial(self._confirmed, proposal))

    def _confirmed(self, proposal: Proposal, apply: bool | None) -> None:
        if not apply:
            self.notify(f"cancelled: {proposal.field} unchanged", timeout=3)
            return
        self.run_worker(partial(self._apply, proposal), thread=True, group="change",
                        exit_on_error=False, name=f"set {proposal.field}")

    def _apply(self, proposal: Proposal) -> None:
        """On a worker thread: set() may wait for the kernel."""
        try:
            result = self.source.set(proposal.field, proposal.new)
        except AuditError as error:
            logged = self._log(proposal.field, proposal.old, proposal.new, str(error))
            self.post_message(ChangeFailed(proposal.field, proposal.old, proposal.new,
                                           error, logged))
            return
        logged = self._log(result.field, result.old, result.new, "ok")
        self.post_message(ChangeApplied(result, logged))

    def _log(self, field: str, old: int | None, new: int | None, result: str) -> str | None:
        try:
            append_change(field, old, new, result, path=self.change_log)
        except OSError as error:
            return f"the change log could not be written: {error}"
        return None

    @on(ChangeApplied)
    def _on_applied(self, message: ChangeApplied) -> None:
        r = message.result
        if r.new == r.requested:
            self.notify(f"{r.field}: {r.old} -> {r.new} (read back from the kernel)",
                        title="applied")
        else:
            self.notify(f"{r.field}: asked for {r.requested}, the kernel reads back {r.new}",
                        title="applied, but different", severity="warning")
        if message.logged:
            self.notify(message.logged, severity="warning")

    @on(ChangeFailed)
    def _on_failed(self, message: ChangeFailed) -> None:
        self.notify(f"{message.field} unchanged: {message.error}", title="change failed",
                    severity="error", timeout=10)
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
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self.sampler is not None:
            self.sampler.stop()
        if self.source is None:
            return
        # Off the UI's event loop (the live source runs one of its own to
        # close), after the sampler's last poll, but never waiting long for a
        # poll the kernel still holds asleep: closing wakes scripted ones.
        running = self.sampler is not None and not self._sampler_done.is_set()

        def close() -> None:
            if running:
                self._sampler_done.wait(0.5)
            self.source.close()
        closer = threading.Thread(target=close, name="auditop-close", daemon=True)
        closer.start()
        closer.join(1.0)


def run(*, interval: float = 1.0, sample_rate: float = DEFAULT_RATE_HZ,
        read_only: bool = False) -> int:
    """Run the TUI on the live kernel; the process exit code."""
    from auditop.sources.live import LiveSource  # pyroute2 only here

    source, error = None, None
    try:
        source = LiveSource()  # before the UI's event loop: see AuditopApp._sample
    except AuditError as exc:
        error = exc  # shown on the fatal screen, which says what is needed
    app = AuditopApp(source=source, startup_error=error, interval=interval,
                     sample_rate=sample_rate, read_only=read_only)
    loop = asyncio.new_event_loop()
    app.run(loop=loop)
    code = app.return_code or 0
    if app.sampler is not None and app.sampler.stalled_for() > 0:
        # The kernel still holds the last poll asleep (up to backlog_wait_time,
        # 60 s by default). The terminal is restored; do not wait for it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    loop.close()
    return code
