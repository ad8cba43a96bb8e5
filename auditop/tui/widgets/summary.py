"""The header: a title line, top-like summary rows and a one-line banner.

Each widget is a thin wrapper around a pure function View -> Content, so
tests check the words without running an app. Severity is always spelled
out (PANIC, STOPPED, LOST ...), never shown by colour alone, so NO_COLOR
and monochrome terminals lose nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content

from auditop.core.findings import DEFAULT as THRESHOLDS
from auditop.core.drift import now_critical
from auditop.core.findings.auditd import plugin_queue_parts
from auditop.core.findings.producers import DOMINANT_SHARE
from auditop.core.findings.settings import change_text
from auditop.core.history import recent_loss_causes
from auditop.core.losses import causes_text
from auditop.core.model import FAILURE_MODES
from auditop.core.text import (UNKNOWN, bytes_text, clock_text, count_text, day_text,
                               jiffies_cell, jiffies_seconds, minute_text, rate_text,
                               seconds_text, share_text, short_number)
from auditop.tui.view import View
from auditop.tui.widgets.base import ViewWidget

if TYPE_CHECKING:  # the live TUI starts without the simulator
    from auditop.sources.simulator import Panic

LABEL = 8  # width of the row labels ("backlog ")


def _pct(value: int | None, limit: int | None) -> str:
    share = share_text(value, limit)
    return f" ({share})" if share else ""


def _fill_style(value: int | None, limit: int | None) -> str:
    if value is None or not limit:
        return ""
    if value >= THRESHOLDS.backlog_critical * limit:
        return "$error b"
    if value >= THRESHOLDS.backlog_warning * limit:
        return "$warning b"
    return ""


def _item(text: str, style: str = "") -> Content:
    # Built, not parsed from markup: the summary is made once a second.
    return Content.styled(text, style) if style else Content(text)


def title_content(view: View, width: int | None = None) -> Content:
    """`auditop  12:00  window 1 s @ 10 Hz  PAUSED  STALE  changes off: ...`;
    a replay gives the recording's date and time, where it is and how fast.
    What does not fit in `width` goes, the window and rate first."""
    replay = view.replay
    parts = [(_item("auditop", "b"), 0)]
    if view.demo:
        parts.append((_item(" DEMO ", "reverse b $accent"), 0))
    if replay is not None:  # the recording's day, unless there is no room for it
        parts.append((_item(day_text(view.now)), 1))
    # Live, the clock is to the minute: seconds would repaint an idle screen
    # every window (a tenth of auditop's CPU, docs/performance.md); a replay
    # moves through its recording, whose second matters.
    now = clock_text(view.now) if replay is not None else minute_text(view.now)
    parts += [(_item(now), 0),
              (_item(f"window {seconds_text(view.interval)} @ {view.sample_rate:g} Hz"), 2)]
    if replay is not None:
        more = "" if replay.complete else "+"
        parts.append((_item(f"{replay.position + 1}/{replay.known}{more} at "
                            f"{replay.speed:g}x"), 0))
    if view.paused:
        parts.append((_item(" PAUSED " if not (replay and replay.at_end) else " END ",
                            "reverse b"), 0))
    if view.stale:
        parts.append((_item(" STALE ", "reverse $warning"), 0))
    elif view.throttled:
        parts.append((_item(" THROTTLED ", "reverse $warning"), 0))
    if replay is not None:
        parts.append((_item("replay: no kernel changes", "$warning"), 0))
    elif view.demo and not view.blocked:
        parts.append((_item("a simulated machine: nothing real is touched", "$text-muted"), 1))
    elif view.read_only:
        parts.append((_item("read-only", "$warning"), 1))
    elif view.blocked:
        parts.append((_item(f"changes off: {view.blocked}", "$warning"), 1))
    while width is not None and len(parts) > 1 and (
            sum(p.cell_length for p, _ in parts) + 2 * (len(parts) - 1) > width):
        drop = max(range(len(parts)), key=lambda i: (parts[i][1], i))
        if parts[drop][1] == 0:
            break
        del parts[drop]
    return Content("  ").join(p for p, _ in parts)


def summary_rows(view: View) -> list[tuple[str, list[Content]]]:
    """(label, items) rows; the widget flows the items to the width it has."""
    status, window = view.status, view.window
    if status is None:
        waiting = ("waiting for the kernel's first answer" if not view.silent_error
                   else view.silent_error)
        return [("audit", [_item(waiting, "$warning")])]
    enabled = {0: ("enabled 0 (OFF: no records)", "$warning b"), 1: ("enabled 1 (on)", ""),
               2: ("enabled 2 (on, LOCKED)", "$warning b")}.get(
        status.enabled, (f"enabled {count_text(status.enabled)}", ""))
    failure_name = FAILURE_MODES.get(status.failure, UNKNOWN)
    failure = _item(f"failure {count_text(status.failure)} ({failure_name})",
                    "reverse b $error" if status.failure == 2 else "")
    audit = [_item(*enabled), failure, _item(f"rate_limit {count_text(status.rate_limit)}"),
             _auditd(view)]

    limit = status.backlog_limit
    limit_text = "unlimited" if limit == 0 else count_text(limit)
    peak = view.backlog_peak  # never below the backlog beside it (view.shown_peak)
    lost_rate = window.lost_per_s if window else None
    backlog = [
        _item(f"{count_text(status.backlog)} / {limit_text}{_pct(status.backlog, limit)}",
              _fill_style(status.backlog, limit)),
        _item(f"peak {count_text(peak)}{_pct(peak, limit)} in {seconds_text(view.interval)}",
              _fill_style(peak, limit)),
        _item(f"LOST {count_text(status.lost)} (+{rate_text(lost_rate)})" if lost_rate else
              f"lost {count_text(status.lost)} (+{rate_text(lost_rate)})",
              "reverse b $error" if lost_rate else ""),
    ]
    hz = view.system.hz if view.system else None
    wait_rate = window.wait_per_s if window else None
    waited = jiffies_seconds(wait_rate, hz)
    wait = [_item(f"backlog_wait_time {jiffies_cell(status.backlog_wait_time, hz)}"),
            _item(("processes waited " + (f"{seconds_text(waited)}/s" if waited is not None
                                          else f"{rate_text(wait_rate)} j"))
                  if wait_rate else "nobody waiting",
                  "$warning b" if wait_rate else "")]
    if view.throttled:
        wait.append(_item(f"THROTTLED {seconds_text(view.held_for)}", "reverse b $warning"))
    rows = [("audit", audit), ("backlog", backlog), ("wait", wait),
            ("netlink", _netlink(view))]
    if status.pid:
        rows.append(("plugins", _plugins(view)))
    if (who := producers_items(view)):
        rows.append(("who", who))
    return rows


PRODUCERS_KEY = "W"  # opens the producers screen (tui/screens/producers.py)


def producers_items(view: View) -> list[Content]:
    """Who fills the queue, like top's busiest processes: the top rule key
    and the top process, each with its share of the records and its rate,
    the records a second in all, and how the counts were taken when that
    matters (listened part of the window, sampled, an older window). [] while
    nothing is counted or no record flowed."""
    producers = view.producers
    if producers is None or not producers.records:
        return []
    losing = bool(view.window and view.window.lost_per_s) or view.at_limit
    items = [_item(f"{short_number(producers.per_s)} records/s")]
    key = producers.top("by_key")
    named = [("key", key)] if key is not None else [("type", producers.top("by_type"))]
    named.append(("by", producers.top("by_comm")))
    for label, top in named:
        if top is None:
            continue
        dominant = losing and top.share >= DOMINANT_SHARE
        items.append(_item(f"{label} {top.name} {share_text(top.share, 1)} "
                           f"{short_number(top.per_s)}/s", "$warning b" if dominant else ""))
    notes = ["from auditd's log"] if producers.source == "log" else []
    if producers.listened < 0.995:
        notes.append(f"listened {share_text(producers.listened, 1)}")
    if producers.sampled < 0.995:
        notes.append(f"sampled {share_text(producers.sampled, 1)}")
    if view.producers_age >= 0.5:
        notes.append(f"{seconds_text(round(view.producers_age))} ago")
    if notes:
        items.append(_item(f"({', '.join(notes)})", "$text-muted"))
    items.append(_item(f"{PRODUCERS_KEY}: all", "$text-muted"))
    return items


_LEVELS = {"": "", "warning": "$warning b", "error": "reverse b $error"}


def _plugins(view: View) -> list[Content]:
    """The pipeline's third stage: auditd's queue to its plugins, from its
    state report (kernel backlog -> auditd's socket -> plugin queue)."""
    system = view.system
    state = system.auditd_state if system else None
    parts = plugin_queue_parts(state, system.config if system else None, view.now)
    items = [_item(text, _LEVELS[level]) for text, level in parts]
    if state is None and parts[0][0] == "no fresh state report" and view.can_ask_state:
        items.append(_item("(i asks auditd)", "$text-muted"))
    return items


def _auditd(view: View) -> Content:
    status, system = view.status, view.system
    process = system.auditd if system else None
    if not status.pid:
        return _item("auditd NOT RUNNING (pid 0)",
                     "$error b" if status.enabled in (1, 2) else "$warning")
    if process is None:
        return _item(f"auditd {status.pid} (process not visible)")
    if process.stopped:
        return _item(f"auditd {status.pid} STOPPED", "reverse b $error")
    if process.state in ("S", "R"):
        return _item(f"auditd {status.pid} running")
    return _item(f"auditd {status.pid} {state_text(process.state)}",
                 "$warning b" if process.state in ("D", "Z", "X") else "")


# /proc/<pid>/stat's state letters (proc(5)); S and R are shown as "running".
PROCESS_STATES = {
    "R": "running", "S": "sleeping", "D": "waiting on disk", "T": "stopped",
    "t": "stopped by a debugger", "Z": "zombie: exited, not reaped", "X": "dead",
    "I": "idle", "P": "parked", "W": "paging", "K": "wakekill",
}


def state_text(state: str) -> str:
    """"D: waiting on disk": the letter ps shows, and what it means."""
    words = PROCESS_STATES.get(state)
    return f"{state}: {words}" if words else f"state {state}"


def _netlink(view: View) -> list[Content]:
    """auditd's real socket buffer first (sock_diag); rmem_default beside it
    only when it differs (a new default reaches auditd only at a restart)
    or when the real buffer is unknown."""
    system, window = view.system, view.window
    rmem = system.rmem_default if system else None
    sock = system.auditd_socket if system else None
    rmem_item = _item(f"rmem_default {bytes_text(rmem)}",
                      "$warning" if rmem is not None and rmem < THRESHOLDS.rmem_default else "")
    if sock is None:
        return [rmem_item, _item("auditd socket: none")]
    items = []
    if sock.rcvbuf is None:
        items += [rmem_item, _item(f"auditd rcvbuf {UNKNOWN}")]
    else:
        differs = f" (rmem_default {bytes_text(rmem)})" if rmem not in (None, sock.rcvbuf) \
            else ""
        items.append(_item(f"auditd rcvbuf {bytes_text(sock.rcvbuf)}{differs}",
                           "$warning" if sock.rcvbuf < THRESHOLDS.rmem_default else ""))
    drops = window.netlink_drops_per_s if window else None
    items.append(_item(f"queue {bytes_text(sock.rmem)}"))
    items.append(_item(f"drops {sock.drops} ({rate_text(drops)})", "$warning b" if drops else ""))
    return items


def flow(rows: list[tuple[str, list[Content]]], width: int) -> Content:
    """Lay out rows as `label  item  item ...`, wrapping items (never words
    inside an item) under the label column when the width runs out."""
    lines: list[Content] = []
    indent = Content(" " * LABEL)
    for label, items in rows:
        line = Content.styled(f"{label:<{LABEL}}", "b")
        used, first = LABEL, True
        for item in items:
            need = item.cell_length + (0 if first else 2)
            if not first and used + need > width:
                lines.append(line)
                line, used, first = indent, LABEL, True
                need = item.cell_length
            line = line + (item if first else Content("  ") + item)
            used += need
            first = False
        lines.append(line)
    return Content("\n").join(lines)


def summary_content(view: View, width: int = 80) -> Content:
    return flow(summary_rows(view), width)


def banner_content(view: View) -> Content:
    """One line for the most urgent thing: silence, a forecast, panic mode."""
    if view.stale:
        since = f" (last answer {clock_text(view.answered_at)})" if view.answered_at else ""
        if view.throttled:
            return _item(f"!! kernel holding every sender of auditop "
                         f"({seconds_text(round(view.held_for))}): "
                         f"values are stale{since}", "reverse b $warning")
        return _item(f"!! kernel not answering for {seconds_text(round(view.silent_for))}: "
                     "values are "
                     f"stale{since}", "reverse b $warning")
    if view.throttled:
        return _item(f"!! kernel throttling: holds senders {seconds_text(view.held_for)}, auditop "
                     "too; values are real", "reverse b $warning")
    if view.status is None:
        return Content("")
    status = view.status
    limit = status.backlog_limit
    peak = view.backlog_peak
    cause = _loss_cause(view)
    panic = " With failure = 2 the next lost record PANICS the machine." if view.panic else ""
    rising = view.forecast is not None and view.forecast >= 1
    if view.at_limit:  # the backlog shown is at its limit: said with its numbers
        return _item(f"!! backlog AT the limit now ({status.backlog}/{limit}): "
                     f"{at_the_limit(view)}.{panic}{cause}",
                     "reverse b $error" if view.panic else "b $error")
    if rising:
        when = (f"reaches the limit {limit} in ~{seconds_text(round(view.forecast))} at the "
                "current slope")
        if view.panic:
            return _item(f"!! backlog rising: {when}. failure = 2 panics the machine on "
                         "the first lost record: time to panic.", "reverse b $error")
        return _item(f"! backlog rising: {when}", "b $warning")
    if limit and peak is not None and peak >= limit:  # the peak did, the backlog is below now
        return _item(f"!! backlog hit its limit (peak {peak}/{limit}, {status.backlog} now): "
                     f"{at_the_limit(view)}.{panic}{cause}",
                     "reverse b $error" if view.panic else "b $error")
    if view.window is not None and view.window.lost_per_s:
        return _item(f"!! records are being lost ({rate_text(view.window.lost_per_s)}).{cause}",
                     "b $error")
    if view.panic:
        return _item("! failure = 2: the first lost record panics the machine", "b $error")
    if view.setting_changes:
        changes = view.setting_changes
        more = f" (+{len(changes) - 1} more)" if len(changes) > 1 else ""
        return _item(f"! {change_text(changes[-1], when=False, status=status)}{more}",
                     "b $error" if now_critical(changes, status) else "b $warning")
    if view.window is None:
        return _item("collecting the first window...", "$text-muted")
    return _item("backlog not rising", "$text-muted")


def at_the_limit(view: View) -> str:
    """What happens to a record that finds the backlog full, by the
    backlog_wait_time shown (the producer sleeps up to that long first)."""
    wait = view.status.backlog_wait_time
    if wait is None:
        return "records are lost"
    if wait == 0:
        return "records are lost at once (backlog_wait_time 0)"
    hz = view.system.hz if view.system else None
    return f"processes wait up to {jiffies_cell(wait, hz)}, then records are lost"


def _loss_cause(view: View) -> str:
    """"  lost: backlog limit exceeded" while records are being lost and the
    kernel log named why (now or within the last few seconds; it
    rate-limits these messages); "" otherwise."""
    window = view.window
    if window is None or not window.lost_per_s:
        return ""
    causes, _ = recent_loss_causes(view.windows, window)
    return f"  lost: {causes_text(causes)}" if causes else ""


class TitleBar(ViewWidget):
    def render_view(self, view: View) -> Content:
        return title_content(view, self.content_size.width or None)


class Summary(ViewWidget):
    def render_view(self, view: View) -> Content:
        return summary_content(view, self.content_size.width or 78)

    def watch_view(self, view: View | None) -> None:
        self.set_class(bool(view and view.stale), "-stale")
        super().watch_view(view)


def panic_banner(panic: Panic) -> Content:
    """The demo's banner while its simulated machine is down: what the rows
    frozen above show is the moment of the panic, not a risk to come."""
    return _item(f"!! the simulated machine PANICKED at {clock_text(panic.time)} "
                 f"({panic.reason}): failure = 2 met its first lost record. r reboots it",
                 "reverse b $error")


class Banner(ViewWidget):
    panicked: Panic | None = None  # the demo's panic, while its screen is shown (modes.py)

    def render_view(self, view: View) -> Content:
        if self.panicked is not None:
            return panic_banner(self.panicked)
        return banner_content(view)
