"""The summary and banner: auditd's real buffer, the loss cause, the waits
in seconds (pure render functions, checked as text)."""

from __future__ import annotations

from dataclasses import replace

from auditop.core.monitor import Monitor
from auditop.sources.scripted import ScriptedSource, healthy, samples
from auditop.tui.view import build_view
from auditop.tui.widgets.summary import banner_content, summary_content

MiB = 1024 * 1024


def view_of(sample_list):
    snapshot = Monitor(ScriptedSource(healthy())).add(sample_list)
    return build_view(snapshot, now=1_700_000_020.0, paused=False, read_only=False,
                      blocked=None)


def with_system(scenario, **changes):
    return [replace(s, system=replace(s.system, **changes)) for s in samples(scenario, 8)]


def test_the_netlink_row_shows_auditds_rcvbuf():
    text = summary_content(view_of(samples("overflow", 8)), 78).plain
    assert "auditd rcvbuf 208 KiB  queue" in text


def test_a_default_auditd_has_not_got_shows_beside_it():
    """After `sysctl -w net.core.rmem_default=8388608` the running auditd
    keeps its 208 KiB: both are on the row."""
    text = summary_content(view_of(with_system("overflow", rmem_default=8 * MiB)), 100).plain
    assert "auditd rcvbuf 208 KiB (rmem_default 8.0 MiB)" in text


def test_an_unknown_buffer_shows_rmem_default_and_a_question_mark():
    sample_list = [replace(s, system=replace(s.system, auditd_socket=replace(
        s.system.auditd_socket, rcvbuf=None))) for s in samples("overflow", 8)]
    text = summary_content(view_of(sample_list), 100).plain
    assert "rmem_default 208 KiB  auditd rcvbuf ?" in text


def test_the_banner_names_the_cause_while_records_are_lost():
    view = view_of(samples("auditd-stopped", 8))
    assert banner_content(view).plain.endswith("lost: backlog limit exceeded")
    assert "lost:" not in banner_content(view_of(samples("healthy", 8))).plain


def test_the_cause_named_before_a_rate_limited_silence_still_shows():
    # auditd-stopped logs once every 5 s; the 8 s view ends 2 s after the last message.
    view = view_of(samples("auditd-stopped", 8))
    assert view.window.loss_causes == ()
    assert "lost: backlog limit exceeded" in banner_content(view).plain


def test_waits_in_seconds():
    text = summary_content(view_of(samples("throttled", 8)), 100).plain
    assert "backlog_wait_time 2 s (500 j)" in text
    unknown_hz = with_system("throttled", hz=None)
    assert "backlog_wait_time 500 j" in summary_content(view_of(unknown_hz), 100).plain
    waiting = summary_content(view_of(samples("overflow", 8)), 100).plain
    assert "processes waited 0.6 s/s" in waiting
