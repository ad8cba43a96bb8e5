"""The replay's screen (`auditop replay FILE`): a recording's windows at its
pace, and its keys: step a window back / forward, next / previous window
where a finding begins, slower / faster, start / end, jump to a time, find
a finding by id or word (and again); `p` pauses the replay itself. Kernel
changes are unavailable: a replay has no change keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from auditop.core.text import stamp_text
from auditop.core.timespec import FORMATS, BadTime, parse, span_text
from auditop.export.plot import PlotPoint
from auditop.tui.screens.ask import AskScreen
from auditop.tui.screens.monitor import MonitorScreen

if TYPE_CHECKING:
    from auditop.sources.replay import ReplayPlayer, ReplayState

REPLAY_PREFIX = "replay."


class ReplayScreen(MonitorScreen):
    mode = "replay"
    key_prefix = REPLAY_PREFIX

    BINDINGS = [
        # priority: over the findings list's own left / right (it never scrolls sideways)
        Binding("left", "replay_step(-1)", "back", tooltip="replay: one window back (pauses)",
                id="replay.back", show=False, priority=True),
        Binding("right", "replay_step(1)", "forward",
                tooltip="replay: one window forward (pauses)", id="replay.forward",
                show=False, priority=True),
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
        Binding("j", "replay_goto", "jump", tooltip="replay: jump to a time (14:03, +5m; "
                "as --from takes it; pauses)", id="replay.goto", show=False),
        Binding("slash", "replay_search", "find",
                tooltip="replay: find the next window where a finding matching a word or "
                "an id begins (wraps around)", id="replay.search", show=False),
        Binding("semicolon", "replay_search_again", "again",
                tooltip="replay: find the same again", id="replay.again", show=False),
    ]

    def __init__(self, player: ReplayPlayer, **kwargs) -> None:
        super().__init__(**kwargs)
        self.player = player
        self.searched: str | None = None  # the last search, for `;`

    def blocked(self) -> str | None:
        return "replay: no kernel changes"

    def replay_state(self) -> ReplayState | None:
        return self.player.state

    def plot_points(self) -> list[PlotPoint]:
        return [PlotPoint(*point) for point in self.player.plot_points()]

    def action_pause(self) -> None:
        self.player.toggle_pause()  # the replay itself stops; its snapshot says so

    def action_replay_step(self, count: int) -> None:
        self.player.step(count)

    def action_replay_find(self, direction: int) -> None:
        self.player.next_finding(direction)

    def action_replay_speed(self, direction: int) -> None:
        (self.player.faster if direction > 0 else self.player.slower)()

    def action_replay_jump(self, to_end: int) -> None:
        self.player.jump(bool(to_end))

    def action_replay_goto(self) -> None:
        span = self.player.span()
        runs = f" (it runs {span_text(*span)})" if span else ""

        def chosen(text: str | None) -> None:
            if text:
                self.player.goto(parse(text))
        self.app.push_screen(AskScreen(
            "jump to a time", f"A time in the recording{runs}: {FORMATS}.",
            placeholder=f"e.g. {stamp_text(span[0])[11:16] if span else '14:03'} or +90",
            hint="jump there (pauses)", check=_time_problem), chosen)

    def action_replay_search(self) -> None:
        def chosen(text: str | None) -> None:
            if text:
                self.searched = text
                self.player.search(text)
        self.app.push_screen(AskScreen(
            "find a finding", "A word or a finding id (lost, auditd, backlog-high): the "
            "next window where a finding matching it begins, from the start again after "
            "the last; `;` finds the same again.", placeholder="e.g. lost",
            hint="find it (pauses)", check=_search_problem, value=self.searched or ""),
            chosen)

    def action_replay_search_again(self) -> None:
        if self.searched is None:
            self.action_replay_search()
        else:
            self.player.search(self.searched)


def _time_problem(text: str) -> str | None:
    try:
        parse(text)
    except BadTime as error:
        return str(error)
    return None


def _search_problem(text: str) -> str | None:
    return None if text.strip() else "type a word or a finding id"
