"""The pure render functions behind the widgets, checked as text."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from auditop.core.findings import Finding
from auditop.core.monitor import Monitor
from auditop.core.errors import NoAuditSupport, NotPrivileged
from auditop.sources.scripted import ScriptedSource, healthy, samples, silence
from auditop.core.changes import Proposal
from auditop.tui.screens.confirm import proposal_content
from auditop.tui.screens.fatal import fatal_content
from auditop.tui.screens.help import help_content
from auditop.tui.view import View, build_view
from auditop.core.text import short_number as compact
from auditop.tui.widgets.charts import (LABEL_WIDTH, NO_DATA, backlog_chart, bars,
                                        chart_content, charts_content, lost_chart)
from auditop.tui.widgets.findings import NO_FINDINGS, finding_detail, findings_text
from auditop.tui.widgets.summary import banner_content, flow, summary_content, title_content


def view_of(scenario: str, seconds: float = 20, extra=(), **kwargs) -> View:
    snapshot = Monitor(ScriptedSource(healthy())).add(samples(scenario, seconds) + list(extra))
    options = dict(now=1_700_000_020.0, paused=False, read_only=False, blocked=None)
    options.update(kwargs)
    return build_view(snapshot, **options)


# -- sparklines ---------------------------------------------------------------

def test_bars_scale_to_top_and_clip():
    assert bars([0, 4, 8, 16], 4, 1, 8) == [" ▄██"]


def test_bars_two_rows():
    assert bars([8, 16], 2, 2, 16) == [" █", "██"]


def test_bars_no_data_and_padding():
    assert bars([None, 1], 4, 2, 100) == ["    ", "  " + NO_DATA + "▁"]


def test_bars_keep_the_newest_at_the_right():
    assert bars(list(range(10)), 3, 1, 9) == ["▆▇█"]


def test_tiny_values_still_show():
    assert bars([1], 1, 1, 1_000_000) == ["▁"]


@pytest.mark.parametrize("value,text", [(None, "?"), (0, "0"), (5.5, "5.5"), (1500, "1.5k"),
                                        (2_000_000, "2M")])
def test_compact(value, text):
    assert compact(value) == text


def test_burst_shows_at_the_limit():
    """A 150 ms flood once a second: every window's peak is at the limit."""
    view = view_of("overflow", 12)
    chart = backlog_chart(view)
    assert chart.values[-1] == 1025 and chart.top == 1024
    assert "full = limit 1024" in chart_content(chart, 80, 3).plain
    assert chart_content(chart, 80, 3).plain.splitlines()[0].endswith("█")


def test_lost_chart_shows_its_scale():
    text = chart_content(lost_chart(view_of("overflow", 12)), 80, 2).plain
    assert "lost/s  now 1.69k" in text and "full = " in text


def marked_view(marked: int = 20):
    """29 windows of 1 s, quiet but for window `marked`: the backlog at its
    limit, losses and drops (each chart's top)."""
    view = view_of("healthy", 30)
    windows = tuple(replace(w, backlog_peak=w.status.backlog_limit if i == marked else 0,
                            lost_per_s=50.0 if i == marked else 0.0,
                            netlink_drops_per_s=5.0 if i == marked else 0.0)
                    for i, w in enumerate(view.windows))
    return replace(view, windows=windows)


@pytest.mark.parametrize("width, height", [(78, 7), (118, 16), (78, 12), (118, 6)])
def test_a_window_is_in_the_same_column_in_every_chart(width, height):
    """At 80 and 120 columns, short and tall: one time axis for all charts."""
    view = marked_view()
    count = len(view.windows)
    lines = charts_content(view, width, height).plain.split("\n")
    assert len(lines) == height and all(len(line) <= width for line in lines)
    charts = [line for line in lines if not line.startswith("time")]
    column = width - count + 20  # window 20 of 29, the newest in the last column
    for line in charts:  # every row of every chart: only the marked window's column
        assert [c for c, char in enumerate(line) if c > LABEL_WIDTH and char != " "] \
            == [column], line
    names = [line.split()[0] for line in charts if line[:1] not in (" ", "f", "n")]
    assert names[:2] == ["backlog", "lost/s"]


@pytest.mark.parametrize("width", [78, 118])
def test_the_time_axis_is_under_the_windows_it_names(width):
    view = marked_view()
    axis = charts_content(view, width, 16).plain.split("\n")[-1]
    assert axis.startswith("time") and axis.endswith("now┘")  # under the newest window
    newest = view.windows[-1].end
    for match in re.finditer(r"└-(\d+)s", axis):
        index = len(view.windows) - (width - match.start())
        assert newest - view.windows[index].end == int(match.group(1))
    assert "└-10s" in axis and "└-20s" in axis


def test_a_tall_backlog_chart_is_bars_on_the_same_columns():
    text = charts_content(view_of("overflow", 30), 100, 16).plain.split("\n")
    assert "\x1b" not in "".join(text) and len(text) == 16
    assert text[1].startswith("full = limit 1024") and text[0].endswith("█")
    assert not any("⠤" in line or "┤" in line for line in text)  # no plotext axes


def test_after_a_limit_change_each_window_is_against_its_own_limit():
    """An overflow at 64 then limit 8192: the overflow is still a full
    column, not a sliver of 8192."""
    view = view_of("healthy", 30)
    windows = tuple(replace(w, status=replace(w.status, backlog_limit=64), backlog_peak=65)
                    if i < 10 else replace(w, backlog_peak=1024)
                    for i, w in enumerate(view.windows))
    chart = backlog_chart(replace(view, windows=windows))
    assert chart.scale == "full = limit in force"
    rows = chart_content(chart, 80, 3).plain.split("\n")
    plot = [row[LABEL_WIDTH + 1:] for row in rows]
    start = len(plot[0]) - len(windows)
    assert plot[0][start:start + 10] == "█" * 10  # 65 of 64: full
    assert plot[0][start + 10:].strip() == ""  # 1024 of 8192: an eighth of the height
    assert set(plot[2][start + 10:]) == {"▃"}


# -- summary, title, banner ------------------------------------------------------

def test_summary_healthy():
    text = summary_content(view_of("healthy"), 78).plain
    assert "enabled 1 (on)" in text and "failure 1 (printk)" in text
    assert "auditd 812 running" in text
    assert "/ 8192" in text and "lost 0" in text
    assert "auditd rcvbuf 8.0 MiB" in text and "queue 8 KiB" in text
    assert "rmem_default" not in text  # the same as auditd's buffer: said once
    assert "backlog_wait_time 240 s (60000 j)" in text  # HZ 250


def test_summary_fits_80_columns():
    for scenario in ("healthy", "overflow", "panic", "auditd-stopped"):
        lines = summary_content(view_of(scenario), 78).plain.splitlines()
        assert all(len(line) <= 78 for line in lines), lines
        assert len(lines) <= 5


def test_summary_wraps_items_when_narrow():
    lines = summary_content(view_of("overflow"), 50).plain.splitlines()
    assert all(len(line) <= 50 for line in lines)
    assert any(line.startswith(" " * 8) for line in lines)  # continuation under the label


def test_failure_2_stands_out_in_words():
    text = summary_content(view_of("panic")).plain
    assert "failure 2 (PANIC)" in text


def test_lost_events_in_words():
    text = summary_content(view_of("overflow")).plain
    assert "LOST" in text and "/s" in text


def test_auditd_states_in_words():
    assert "auditd 812 STOPPED" in summary_content(view_of("auditd-stopped")).plain
    assert "auditd NOT RUNNING (pid 0)" in summary_content(view_of("auditd-not-running")).plain
    assert "enabled 0 (OFF" in summary_content(view_of("disabled")).plain
    assert "enabled 2 (on, LOCKED)" in summary_content(view_of("locked")).plain


def test_title_line():
    view = view_of("healthy", paused=True, read_only=True)
    assert title_content(view).plain == ("auditop  22:13  window 1 s @ 10 Hz   PAUSED   "
                                         "read-only")
    blocked = view_of("locked", blocked="audit is locked (enabled 2) until reboot")
    assert "changes off: audit is locked" in title_content(blocked).plain


def test_forecast_and_panic():
    text = banner_content(view_of("panic")).plain
    assert "backlog rising: reaches the limit 8192 in ~" in text
    assert "time to panic" in text


def test_no_forecast_for_noise():
    assert banner_content(view_of("healthy")).plain == "backlog not rising"


def test_banner_at_the_limit():
    # the peak reached the limit, the backlog shown is below it now; nobody waits
    assert ("backlog hit its limit (peak 1025/1024, 7 now): records are lost at once "
            "(backlog_wait_time 0)") in banner_content(view_of("overflow")).plain


def test_banner_when_the_kernel_is_silent():
    last = samples("healthy", 10)[-1]
    view = view_of("healthy", 10, extra=[silence(last, 0.25 * k) for k in range(1, 13)])
    assert view.stale
    assert banner_content(view).plain.startswith("!! kernel not answering for 3 s")
    assert "STALE" in title_content(view).plain
    # the last values stay on screen
    assert "/ 8192" in summary_content(view).plain


def test_summary_before_any_answer():
    snapshot = Monitor(ScriptedSource(healthy())).snapshot()
    view = build_view(snapshot, now=0, paused=False, read_only=False, blocked=None)
    assert "waiting for the kernel" in summary_content(view).plain


def test_flow_keeps_items_whole():
    from textual.content import Content
    text = flow([("x", [Content("aaaa"), Content("bbbb")])], 14).plain
    assert text.splitlines() == ["x       aaaa", "        bbbb"]


# -- findings, dialogs, help, fatal --------------------------------------------------

def test_findings_by_severity_in_words():
    view = view_of("overflow")
    text = findings_text(view.findings)
    lines = text.splitlines()
    assert lines[0].startswith("CRIT !!")
    assert any(line.startswith("WARN !") for line in lines)
    assert findings_text(()) == NO_FINDINGS


def test_finding_detail_has_the_remedy():
    finding = Finding("x", "warning", "Title", "Detail text.", "do this")
    text = finding_detail(finding).plain
    assert "WARN ! Title" in text and "Detail text." in text and "Remedy:" in text
    assert "do this" in text


def test_proposal_says_everything():
    text = proposal_content(Proposal("backlog_limit", 4096, 8192, "double")).plain
    assert "4096  ->  8192" in text
    assert ("memory when full: ~18.0 MiB typical (2304 bytes a record), up to 130.0 MiB"
            in text)
    assert "now: ~9.0 MiB typical" in text
    assert "lasts until reboot" in text and "their own -b" in text
    assert "-b 8192" in text and "/etc/audit/rules.d/audit.rules" in text
    assert "audit_backlog_limit=8192" in text
    assert "y  or  Enter  apply" in text and "n  or  Esc  cancel" in text


def test_help_content_lists_its_rows_and_the_extra_keys():
    text = help_content([("z", "pause it"), ("^q / Q", "quit it")]).plain
    assert re.search(r"\n  z +pause it\n", text) and re.search(r"\n  \^q / Q +quit it\n", text)
    assert "Enter" in text and "Esc" in text


def test_fatal_says_what_is_needed():
    assert "needs CAP_AUDIT_CONTROL: run as root" in fatal_content(NotPrivileged()).plain
    assert "no audit" in fatal_content(NoAuditSupport()).plain


# -- auditd's real buffer, the loss cause, the waits in seconds -----------------------

MiB = 1024 * 1024


def samples_view(sample_list):
    snapshot = Monitor(ScriptedSource(healthy())).add(sample_list)
    return build_view(snapshot, now=1_700_000_020.0, paused=False, read_only=False,
                      blocked=None)


def with_system(scenario, **changes):
    return [replace(s, system=replace(s.system, **changes)) for s in samples(scenario, 8)]


def test_the_netlink_row_shows_auditds_rcvbuf():
    text = summary_content(samples_view(samples("overflow", 8)), 78).plain
    assert "auditd rcvbuf 208 KiB  queue" in text


def test_a_default_auditd_has_not_got_shows_beside_it():
    """After `sysctl -w net.core.rmem_default=8388608` the running auditd
    keeps its 208 KiB: both are on the row."""
    text = summary_content(samples_view(with_system("overflow", rmem_default=8 * MiB)), 100).plain
    assert "auditd rcvbuf 208 KiB (rmem_default 8.0 MiB)" in text


def test_an_unknown_buffer_shows_rmem_default_and_a_question_mark():
    sample_list = [replace(s, system=replace(s.system, auditd_socket=replace(
        s.system.auditd_socket, rcvbuf=None))) for s in samples("overflow", 8)]
    text = summary_content(samples_view(sample_list), 100).plain
    assert "rmem_default 208 KiB  auditd rcvbuf ?" in text


def test_the_banner_names_the_cause_while_records_are_lost():
    view = samples_view(samples("auditd-stopped", 8))
    assert banner_content(view).plain.endswith("lost: backlog limit exceeded")
    assert "lost:" not in banner_content(samples_view(samples("healthy", 8))).plain


def test_the_cause_named_before_a_rate_limited_silence_still_shows():
    # auditd-stopped logs once every 5 s; the 8 s view ends 2 s after the last message.
    view = samples_view(samples("auditd-stopped", 8))
    assert view.window.loss_causes == ()
    assert "lost: backlog limit exceeded" in banner_content(view).plain


def test_waits_in_seconds():
    text = summary_content(samples_view(samples("throttled", 8)), 100).plain
    assert "backlog_wait_time 2 s (500 j)" in text
    unknown_hz = with_system("throttled", hz=None)
    assert "backlog_wait_time 500 j" in summary_content(samples_view(unknown_hz), 100).plain
    waiting = summary_content(samples_view(samples("overflow", 8)), 100).plain
    assert "processes waited 0.6 s/s" in waiting
