import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.history import History, forecast_seconds_to_full
from auditop.core.model import NetlinkSocketRow, SystemInfo
from tests.unit.builders import (
    HEALTHY_SYSTEM,
    feed,
    make_sample,
    silent_sample,
    ticks,
)

U32 = 2**32


def windows_of(samples, interval=1.0):
    """Every window, the partial last one included."""
    history = History(interval=interval)
    closed = feed(history, samples)
    return [*closed, history.flush()]


# --- window boundaries --------------------------------------------------------

def test_ten_hz_gives_one_window_per_interval_despite_float_drift():
    history = History(interval=1.0)
    closed = feed(history, [make_sample(t) for t in ticks(0.0, 10.05)])  # 0.0 ... 10.0
    assert len(closed) == 10
    assert [w.samples for w in closed] == [10] * 10


def test_jitter_does_not_drift_the_windows():
    rng = random.Random(7)
    times = [max(0.0, i / 10 + rng.uniform(-0.04, 0.04)) for i in range(200)]
    history = History(interval=1.0)
    closed = feed(history, [make_sample(t) for t in times])
    assert len(closed) == 19  # one per second; the 20th is still open
    assert all(9 <= w.samples <= 11 for w in closed)
    assert sum(w.samples for w in closed) + history.flush().samples == 200


def test_the_closing_sample_starts_the_next_window():
    history = History(interval=1.0)
    feed(history, [make_sample(t, backlog=1) for t in ticks(0.0, 1.0)])
    closed = history.add(make_sample(1.0, backlog=99))
    assert closed.backlog_peak == 1
    assert history.flush().backlog_peak == 99


def test_interval_change_applies_from_the_next_window():
    history = History(interval=1.0)
    closed = feed(history, [make_sample(t) for t in ticks(0.0, 1.5)])
    history.interval = 2.0
    closed += feed(history, [make_sample(t) for t in ticks(1.5, 4.05)])
    assert [w.samples for w in closed] == [10, 10, 20]  # 0-0.9, 1.0-1.9, 2.0-3.9


def test_grid_restarts_after_a_gap():
    history = History(interval=1.0)
    feed(history, [make_sample(0.0), make_sample(0.5)])
    assert history.add(make_sample(7.3)) is not None  # after 6.8 s of nothing
    assert history.add(make_sample(8.2)) is None
    assert history.add(make_sample(8.3)).samples == 2  # 7.3 and 8.2


def test_flush_closes_the_partial_window_and_restarts_the_grid():
    history = History(interval=1.0)
    assert history.flush() is None
    feed(history, [make_sample(0.0), make_sample(0.1)])
    assert history.flush().samples == 2
    assert history.flush() is None
    assert history.add(make_sample(0.5)) is None
    assert history.add(make_sample(1.4)) is None  # deadline 1.5, not 1.0
    assert history.add(make_sample(1.5)) is not None


def test_capacity_keeps_the_newest_windows():
    history = History(interval=1.0, capacity=3)
    feed(history, [make_sample(float(t), backlog=t) for t in range(6)])
    assert [w.backlog_peak for w in history.windows] == [2, 3, 4]


def test_window_times():
    first, second = windows_of([make_sample(t) for t in ticks(0.0, 1.95)])
    assert first.start == pytest.approx(1_700_000_000.0, abs=1e-6)
    assert first.end == pytest.approx(1_700_000_001.0, abs=1e-6)  # closed by the sample at 1.0
    assert second.end == pytest.approx(1_700_000_001.9, abs=1e-6)  # flushed: its last sample
    assert first.seconds == pytest.approx(0.9)  # first sample to last
    assert second.seconds == pytest.approx(1.0)  # previous window's last sample to last
    assert windows_of([make_sample(3.0)])[0].seconds == 0.0  # a lone first sample


def test_a_late_sample_closes_its_window_on_the_grid():
    # The poll due at 1.0 came back at 1.3 (the kernel held it): the window
    # still ends at its deadline, and the next one at 2.0.
    samples = [make_sample(t) for t in ticks(0.0, 0.95)] + [make_sample(1.3),
                                                             make_sample(2.05)]
    first, second, _ = windows_of(samples)
    assert first.end == pytest.approx(1_700_000_001.0, abs=1e-6)
    assert second.end == pytest.approx(1_700_000_002.0, abs=1e-6)


# --- peak, failures, errors ---------------------------------------------------

def test_a_burst_in_one_sample_is_the_window_peak():
    backlogs = [0, 3, 0, 0, 5000, 0, 0, 0, 1, 0]
    (window,) = windows_of([make_sample(i / 10, backlog=b) for i, b in enumerate(backlogs)])
    assert window.backlog_peak == 5000
    assert window.status.backlog == 0  # the newest status, not the peak


def test_failures_are_counted_and_ignored_for_the_peak():
    samples = [
        make_sample(0.0, backlog=10),
        silent_sample(0.1, "timeout"),
        make_sample(0.2, backlog=20, lost=0),
        silent_sample(0.3, "no answer for 2.0 s"),
    ]
    (window,) = windows_of(samples)
    assert (window.samples, window.failures) == (2, 2)
    assert window.backlog_peak == 20
    assert window.last is samples[-1]
    assert window.status is samples[2].status
    assert window.error == "no answer for 2.0 s"


def test_a_silent_window_has_no_status_peak_or_lost_rate():
    samples = [silent_sample(t) for t in ticks(0.0, 0.95)]
    (window,) = windows_of(samples)
    assert (window.samples, window.failures) == (0, 10)
    assert window.status is None and window.backlog_peak is None
    assert window.lost == 0 and window.lost_per_s is None and window.wait_per_s is None


def test_error_is_none_when_every_poll_was_clean():
    (window,) = windows_of([make_sample(0.0), make_sample(0.5)])
    assert window.error is None


def test_latest_last_answered_and_silent_seconds():
    history = History()
    assert history.latest is None and history.last_answered is None
    assert history.silent_seconds == 0.0
    answered = make_sample(0.0)
    feed(history, [answered, silent_sample(0.4), silent_sample(2.5)])
    assert history.latest.mono == 2.5
    assert history.last_answered is answered
    assert history.silent_seconds == pytest.approx(2.5)


def test_silent_seconds_counts_from_the_first_sample_when_never_answered():
    history = History()
    feed(history, [silent_sample(10.0), silent_sample(13.0)])
    assert history.silent_seconds == pytest.approx(3.0)


# --- rates ----------------------------------------------------------------------

def test_lost_rate_within_and_across_windows():
    samples = [make_sample(i / 10, lost=100 + i) for i in range(20)]  # +10/s
    first, second = windows_of(samples)
    # The first reading is the baseline; the step 0.9 -> 1.0 counts in the second window.
    assert (first.lost, first.lost_per_s) == (9, pytest.approx(10.0))
    assert (second.lost, second.lost_per_s) == (10, pytest.approx(10.0))


def test_a_lone_first_sample_has_no_rates():
    (window,) = windows_of([make_sample(0.0, lost=500, backlog_wait_time_actual=7, drops=3)])
    assert window.lost == 0
    assert window.lost_per_s is None
    assert window.wait_per_s is None
    assert window.netlink_drops_per_s is None


def test_a_steady_counter_gives_zero_rates():
    (window,) = windows_of([make_sample(t, lost=42, drops=5) for t in ticks(0.0, 0.95)])
    rates = (window.lost_per_s, window.netlink_drops_per_s, window.wait_per_s)
    assert window.lost == 0 and rates == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "counts, expected",
    [
        ([100, 100, 3, 5], 5),  # auditctl --reset-lost: 3 counted from zero, then +2
        ([10, 0, 0], 0),  # reset to zero
        ([3_000_000_000, 500], 500),  # from the upper half, but 1.3e9 in 0.1 s: a reset
        ([U32 // 2 - 1, 5], 5),  # from the lower half: a reset whatever the time
    ],
    ids=["reset-lost", "reset-to-zero", "implausible-wrap", "lower-half"],
)
def test_a_counter_that_goes_down_is_a_reset_not_a_negative_rate(counts, expected):
    (window,) = windows_of([make_sample(i / 10, lost=n) for i, n in enumerate(counts)])
    assert window.lost == expected
    assert window.lost_per_s >= 0


@pytest.mark.parametrize(
    "counts, expected",
    [
        ([U32 - 2, U32 - 1, 1], 3),  # +1, then 1 + 2**32 - (2**32 - 1)
        ([U32 - 300, 500], 800),
        ([U32 - 1, 0], 1),  # wrapped to exactly zero
        ([U32 // 2, U32 // 2 - 1 + 10_000_000], None),  # not a drop: plain growth
    ],
    ids=["by-one", "by-hundreds", "to-zero", "no-drop"],
)
@pytest.mark.parametrize("counter", ["lost", "backlog_wait_time_actual", "drops"])
def test_a_u32_wrap_counts_the_growth_across_it(counts, expected, counter):
    """The kernel's lost, backlog_wait_time_actual and a socket's drops are
    u32: past 4294967295 they start again from 0, which is not a reset."""
    (window,) = windows_of([make_sample(i / 10, **{counter: n}) for i, n in enumerate(counts)])
    growth = counts[-1] - counts[0] if expected is None else expected
    seconds = (len(counts) - 1) / 10
    rate = {"lost": window.lost_per_s, "backlog_wait_time_actual": window.wait_per_s,
            "drops": window.netlink_drops_per_s}[counter]
    assert rate == pytest.approx(growth / seconds)
    if counter == "lost":
        assert window.lost == growth


def test_a_wrap_after_a_silence_is_judged_over_the_time_it_took():
    """1.5 billion more in 0.1 s is no wrap; over a minute without an answer
    (25 million a second) it is."""
    start = U32 - 1_000_000_000
    quick = windows_of([make_sample(0.0, lost=start), make_sample(0.1, lost=500_000_000)])
    assert quick[0].lost == 500_000_000  # a reset
    samples = [make_sample(0.0, lost=start)]
    samples += [silent_sample(t) for t in ticks(1.0, 60.0, 1.0)]
    samples += [make_sample(60.0, lost=500_000_000)]
    assert sum(w.lost for w in windows_of(samples)) == 1_500_000_000


def test_a_new_socket_restarts_the_drops_even_from_near_the_top():
    samples = [make_sample(0.0, drops=U32 - 10, inode=7), make_sample(0.1, drops=4, inode=8)]
    (window,) = windows_of(samples)
    assert window.netlink_drops_per_s == pytest.approx(4 / 0.1)


def test_lost_growth_during_a_silent_window_is_counted_over_the_whole_gap():
    samples = [make_sample(0.0, lost=0), make_sample(0.9, lost=0)]
    samples += [silent_sample(t) for t in (1.0, 1.5)]
    samples += [make_sample(t, lost=30) for t in (2.0, 2.9)]
    first, silent, back = windows_of(samples)
    assert silent.lost == 0 and silent.lost_per_s is None
    assert back.lost == 30
    assert back.lost_per_s == pytest.approx(30 / 2.0)  # from 0.9 to 2.9


def test_after_a_minute_of_silence_rates_are_growth_over_the_real_time_it_took():
    """60 s without an answer (silence samples carry no readings), then the
    kernel answers again: 6000 lost and 6000 drops over 60 s are 100/s, and
    the window says it measured them over 60 s, not over its own 0.4 s."""
    samples = [make_sample(t, lost=0, drops=0) for t in (0.0, 0.5, 0.9)]
    samples += [make_sample(t, status=None, system=None, error="not answering")
                for t in ticks(1.0, 60.0, 0.25)]
    samples += [make_sample(t, lost=6000, drops=6000) for t in (60.9, 61.0, 61.3)]
    (back,) = [w for w in windows_of(samples) if w.lost]
    assert back.lost == 6000 and back.lost_seconds == pytest.approx(60.0)
    assert back.lost_per_s == pytest.approx(100.0)
    assert back.netlink_drops_per_s == pytest.approx(100.0)
    assert back.drops_seconds == pytest.approx(60.0)


def test_proc_readings_reused_by_later_samples_count_at_the_time_they_were_read():
    """/proc is read at 2 Hz while the kernel is polled at 10 Hz: at 0.5 s
    windows the drop rate must not alternate between 0 and double."""
    samples = []
    for i in range(40):  # 4 s at 10 Hz; /proc read every 0.5 s, 10 drops/s
        read_at = (i // 5) * 0.5
        system = replace(HEALTHY_SYSTEM, read_at=read_at, auditd_socket=NetlinkSocketRow(
            portid=1, groups=0, rmem=0, drops=int(read_at * 10), inode=7))
        samples.append(make_sample(i / 10 + 0.02, system=system))
    rates = [w.netlink_drops_per_s for w in windows_of(samples, interval=0.5)[1:-1]]
    assert rates and all(rate == pytest.approx(10.0) for rate in rates), rates


def test_wait_rate_from_backlog_wait_time_actual():
    samples = [make_sample(i / 10, backlog_wait_time_actual=1000 * i) for i in range(10)]
    (window,) = windows_of(samples)
    assert window.wait_per_s == pytest.approx(10_000.0)


def test_wait_rate_is_none_on_kernels_without_the_field():
    samples = [make_sample(i / 10, backlog_wait_time_actual=None) for i in range(10)]
    (window,) = windows_of(samples)
    assert window.wait_per_s is None
    assert window.lost_per_s == 0.0


def test_netlink_drops_rate():
    (window,) = windows_of([make_sample(i / 10, drops=4 * i) for i in range(10)])
    assert window.netlink_drops_per_s == pytest.approx(40.0)


@pytest.mark.parametrize(
    "before, after, expected",
    [(50, 2, 2), (5, 7, 7)],
    ids=["fewer-drops", "more-drops"],
)
def test_a_new_auditd_socket_restarts_the_drops_counter(before, after, expected):
    samples = [make_sample(0.0, drops=before, inode=1), make_sample(0.5, drops=after, inode=2)]
    (window,) = windows_of(samples)
    assert window.netlink_drops_per_s == pytest.approx(expected / 0.5)


def test_no_auditd_socket_means_no_drops_rate():
    no_socket = replace(HEALTHY_SYSTEM, auditd_socket=None)
    (window,) = windows_of([make_sample(t, system=no_socket) for t in (0.0, 0.5, 0.9)])
    assert window.netlink_drops_per_s is None


def test_drops_keep_counting_while_the_kernel_is_silent():
    # /proc/net/netlink answers even when the kernel's audit socket does not.
    samples = [make_sample(0.0, drops=0), make_sample(0.5, status=None, error="x", drops=5)]
    (window,) = windows_of(samples)
    assert window.netlink_drops_per_s == pytest.approx(10.0)
    assert window.lost_per_s is None


counters = st.one_of(st.none(), st.integers(0, U32 - 1))
samples_strategy = st.lists(
    st.tuples(
        st.floats(0.0, 2.0),  # seconds since the previous sample
        counters,  # lost (None: no answer)
        counters,  # backlog_wait_time_actual (None: absent)
        st.one_of(st.none(), st.integers(0, U32 - 1)),  # drops (None: no socket)
        st.sampled_from([1, 2]),  # socket inode
    ),
    min_size=1,
    max_size=60,
)


@given(samples_strategy, st.sampled_from([0.25, 1.0, 3.0]))
def test_rates_are_never_negative(rows, interval):
    mono, samples = 0.0, []
    for dt, lost, waited, drops, inode in rows:
        mono += dt
        system = (SystemInfo() if drops is None else
                  SystemInfo(auditd_socket=NetlinkSocketRow(1, 0, 0, drops, inode)))
        if lost is None:
            samples.append(make_sample(mono, status=None, error="timeout", system=system))
        else:
            samples.append(make_sample(mono, lost=lost, backlog_wait_time_actual=waited,
                                       system=system))
    for window in windows_of(samples, interval):
        assert window.lost >= 0
        assert window.seconds >= 0
        for rate in (window.lost_per_s, window.netlink_drops_per_s, window.wait_per_s):
            assert rate is None or rate >= 0


# --- forecast -------------------------------------------------------------------

def history_with_peaks(peaks, backlog_limit=8192):
    history = History(interval=1.0)
    feed(history, [make_sample(float(t), backlog=p, backlog_limit=backlog_limit)
                   for t, p in enumerate(peaks)])
    history.flush()
    return history


def test_forecast_from_a_rising_peak():
    history = history_with_peaks([1000, 2000, 3000, 4000, 5000])  # +1000 per second
    assert forecast_seconds_to_full(history) == pytest.approx((8192 - 5000) / 1000)


def test_forecast_uses_only_the_last_windows():
    history = history_with_peaks([8000, 0, 0, 1000, 2000, 3000, 4000, 5000])
    assert forecast_seconds_to_full(history, last=5) == pytest.approx(3.192)


def test_forecast_is_zero_once_at_the_limit():
    assert forecast_seconds_to_full(history_with_peaks([4000, 9000])) == 0.0


@pytest.mark.parametrize(
    "peaks, backlog_limit",
    [
        ([5000, 4000, 3000], 8192),  # falling
        ([3000, 3000, 3000], 8192),  # flat
        ([1000, 2000, 3000], 0),  # unlimited
        ([1000], 8192),  # one window
        ([], 8192),  # no window
    ],
    ids=["falling", "flat", "unlimited", "one-window", "no-window"],
)
def test_no_forecast(peaks, backlog_limit):
    assert forecast_seconds_to_full(history_with_peaks(peaks, backlog_limit)) is None


def test_no_forecast_without_an_answer():
    history = History()
    feed(history, [silent_sample(float(t)) for t in range(4)])
    assert forecast_seconds_to_full(history) is None


def test_tick_closes_a_window_on_time_without_a_sample():
    history = History(interval=1.0)
    for mono in ticks(0.0, 0.35):
        history.add(make_sample(mono))
    assert history.tick(0.9) is None
    closed = history.tick(1.0)
    assert closed is not None and closed.samples == 4
    assert history.tick(1.5) is None  # nothing in the new window yet
    history.add(make_sample(1.6))
    # the grid goes on: the next window closes at 2.0, not 1.6 + 1.0
    assert history.add(make_sample(1.95)) is None
    assert history.add(make_sample(2.0)) is not None
