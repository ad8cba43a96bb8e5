"""The real kernel, /proc, sock_diag and the kernel log."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from auditop.core.changes import SetAck
from auditop.core.errors import FATAL, AuditError, SendersHeld
from auditop.core.model import AuditdLogReading, AuditStatus, Sample, SystemInfo
from auditop.kernel import wire
from auditop.kernel.client import DEFAULT_TIMEOUT, AuditClient, Pending
from auditop.kernel.ticker import Answer, Ticker
from auditop.probes import read_system
from auditop.probes.auditd_log import AuditdLog, auditd_conf_path, log_path
from auditop.probes.boot import kernel_hz
from auditop.probes.kmsg import LossCauseFollower
from auditop.probes.sockdiag import AuditSocketReader

# The backlog can fill and drain within 150 ms, so the kernel is asked at the
# full sampling rate; /proc, the sysctls and sock_diag move slower and cost
# 3x as much to read cold, so they are read at most this often (and when
# auditd changes), and so are auditd's log (who changed a setting) and its
# state report.
SYSTEM_PERIOD = 0.5
# A ticker (kernel/ticker.py) keeps the pace while the kernel is calm; its
# answers stopping for this long (or three of its periods) hands the pace
# back to the senders, which are built for a kernel that holds them; after
# this long calm again it takes over anew, unless tickers keep failing.
TICKER_STALE = 0.5
TICKER_CALM = 5.0
TICKER_FIRST = 1.0  # the first one: after the first frame, not in its way
TICKER_FAILURES = 3
READ_SLACK = 0.02  # the Monitor wakes 10 ms after a window is due (core/monitor.py)
RULES_PERIOD = 10.0  # `auditctl -l` again at most this often, when a key is not in the rules


class LiveSource:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, *, producers: bool = False,
                 ticker: bool = False) -> None:
        """`ticker`: a long run (the TUI, record, the exporter) may hand the
        pace of its polls to a ticker while the kernel is calm."""
        self._client = AuditClient(timeout)
        self._last_pid: int | None = None
        self._system: SystemInfo | None = None
        self._system_pid: int | None = None  # the auditd pid it was read for
        self._hz: int | None = None
        self._sock_diag = AuditSocketReader()
        # Followed from now on: what was logged before auditop started is
        # never counted, and each poll reads only what arrived since the last.
        self._causes = LossCauseFollower()
        self._lost_read: int | None = None  # `lost` when the kernel log was last read
        self._causes_read_at = float("-inf")
        self._conf: tuple[int | None, str] | None = None  # (pid, the auditd.conf it reads)
        self._log: AuditdLog | None = None  # auditd's log, followed from its end
        self._pending: Pending | None = None  # asked at the last poll, read at the next
        # Who produces the records: from auditd's log unless the listener
        # is asked for (the log costs the kernel nothing, docs/producers.md).
        self._producers = Producers(listener=producers)
        self._may_tick = ticker
        self._ticker: Ticker | None = None
        self._pace: tuple[float, float] | None = None  # (period, fast period), from the Sampler
        self._calm_since: float | None = None  # per-poll answers calm since (monotonic)
        self._ticker_answered = 0.0  # monotonic: its last answer, or its start
        self._ticker_heard = False  # the running ticker has answered
        self._ticker_failures = 0  # tickers that ended without an answer, in a row

    def count_producers(self) -> None:
        """Count who produces the records with the multicast listener from
        now on (issue 16: `--producers`): its own thread reads them; each
        window closing drains its counts (producers())."""
        if not self._producers.listener:
            self._producers.close()
            self._producers = Producers(listener=True)

    @property
    def producers_unavailable(self) -> str | None:
        """Why the producers are not counted, once asked to (one line)."""
        return self._producers.unavailable

    def producers(self):
        """The records counted since the last call, as a frozen
        WindowProducers (core/producers.py); None when not counted. Called
        by History as each window closes, on the Monitor's thread."""
        return self._producers.drain()

    def poll(self, waiting: Callable[[], None] | None = None) -> Sample:
        """One sample: the answer to the request sent at the previous poll,
        which has been waiting in the socket since (so this poll does not
        sleep for it), and the next request sent at once. The first poll, and
        one after a request could not be sent, ask and wait. `waiting` is
        called every moment an answer is late (kernel/client.py): the
        Monitor's thread keeps time then."""
        start = time.monotonic()
        pending, self._pending = self._pending, None
        try:
            if pending is None:
                pending = self._client.ask_status()  # SendersHeld: nothing was sent
            start = pending.sent_at
            status, error = self._client.answer(pending, waiting), None
            self._last_pid = status.pid
            self._client.expect_hold(self._hold_seconds(status))
        except (SendersHeld, *FATAL):
            raise
        except AuditError as exc:
            status, error = None, str(exc)
        end = time.monotonic()
        held, held_for = self._client.held()
        if not self._hand_over(status, held, end):
            try:
                self._pending = self._client.ask_status()
            except AuditError:
                self._pending = None  # the next poll asks again, and says why if it cannot
        if status is not None and not _can_hold(status):
            # The kernel holds senders only while the backlog is over its
            # limit: a sender slow to report on a busy machine is not held.
            held, held_for = 0, 0.0
        causes, suppressed, printed = self._loss_causes(status, end)
        self._producers.duty(status, end)
        # Stamped when read: a period after the kernel answered, in order with
        # everything else the Monitor takes; poll_seconds reaches back to
        # when the request went out (a change's read-back counts from there).
        return Sample(time=time.time(), mono=end, status=status,
                      system=self._read_system(end), error=error,
                      poll_seconds=end - start, held_senders=held,
                      held_for=held_for, loss_causes=causes, loss_suppressed=suppressed,
                      records_printed=printed)

    # -- the ticker ----------------------------------------------------------------

    def pace_with(self, period: float, fast_period: float) -> None:
        """The Sampler's periods, which a ticker keeps when it takes over."""
        self._pace = (period, fast_period)

    @property
    def ticking(self) -> bool:
        """A ticker keeps the pace: collect() takes its answers, poll() is not called."""
        return self._ticker is not None

    @property
    def ticker_fd(self) -> int | None:
        """Hangs up when the ticker dies: the Monitor's pause watches it, so
        the senders take over at once (kernel/ticker.py)."""
        return self._ticker.fileno() if self._ticker is not None else None

    def _hand_over(self, status, held: int, now: float) -> bool:
        """Start a ticker when this source may, the kernel has been calm for
        TICKER_CALM (TICKER_FIRST the first time) and tickers have not kept
        failing."""
        calm = status is not None and not held and not _can_hold(status)
        if not calm:
            self._calm_since = None
            return False
        if self._calm_since is None:
            self._calm_since = now
        if (not self._may_tick or self._pace is None or self._ticker is not None
                or self._ticker_failures >= TICKER_FAILURES
                or now - self._calm_since < (TICKER_CALM if self._ticker_answered
                                             else TICKER_FIRST)):
            return False
        from auditop.core.sampler import BURST_FILL, BURST_HOLD
        period, fast = self._pace
        try:
            self._ticker = Ticker(period, fast, BURST_FILL, BURST_HOLD)
        except OSError:
            self._ticker_failures = TICKER_FAILURES  # cannot start one: the senders poll
            return False
        self._ticker_answered, self._ticker_heard = now, False
        self._client.close_idle()  # its sender is not needed until a change
        return True

    def collect(self) -> list[Sample]:
        """The ticker's answers since the last call, as Samples, each stamped
        when the ticker read it (a period after its request went out, as a
        poll's is). When they have stopped (the kernel holds it, it died) or
        say an error, the senders take the pace back: the Sampler polls at once."""
        now, ticker = time.monotonic(), self._ticker
        if ticker is None:  # closed meanwhile (auditop is quitting)
            return []
        samples, failed = [], False
        for answer in ticker.read():
            status = _status(answer)
            if status is None:
                failed = True  # an error: the senders' poll says it properly
                break
            self._producers.duty(status, answer.read_mono)
            samples.append(Sample(time=answer.read_wall, mono=answer.read_mono, status=status,
                                  system=None, error=None,
                                  poll_seconds=answer.read_mono - answer.sent_mono))
        if samples:
            self._ticker_answered, self._ticker_heard = now, True
            # The kernel log and /proc as they are now go with the last answer
            # read before this wake: when a window is due, the window closing
            # (an answer a few ms into the next one would carry them there).
            at = next((i for i in range(len(samples) - 1, -1, -1)
                       if samples[i].mono <= now - READ_SLACK), 0)
            causes, suppressed, printed = self._loss_causes(samples[at].status, now)
            samples[at] = replace(samples[at], loss_causes=causes, loss_suppressed=suppressed,
                                  records_printed=printed)
            # Each answer goes with /proc as read for the auditd it names: the
            # reading in force, afresh there and wherever the pid changes.
            for i, sample in enumerate(samples):
                if i == at or sample.status.pid != self._system_pid:
                    self._last_pid = sample.status.pid
                    self._read_system(now)  # only when due, or for another pid
                samples[i] = replace(sample, system=self._system)
            self._last_pid = samples[-1].status.pid
        period = self._pace[0] if self._pace else 0.0
        if (failed or ticker.ended
                or now - self._ticker_answered > max(TICKER_STALE, 3 * period)):
            self._stop_ticker()
        return samples

    def _stop_ticker(self) -> None:
        if self._ticker is not None:
            self._ticker_failures = 0 if self._ticker_heard else self._ticker_failures + 1
            self._ticker.close()
            self._ticker = None
        self._calm_since = None

    def _loss_causes(self, status, now: float):
        """The kernel logs a cause only when it loses a record: read its log
        when `lost` moved, and at the system probes' pace for stragglers
        (printk can land just after the counter moved): a syscall less per
        poll on a quiet machine."""
        lost = status.lost if status is not None else None
        if lost == self._lost_read and now - self._causes_read_at < SYSTEM_PERIOD:
            return (), 0, 0
        self._lost_read, self._causes_read_at = lost, now
        return self._causes.poll()

    def _hold_seconds(self, status) -> float:
        """backlog_wait_time in seconds while the backlog is over its limit:
        how long the kernel will hold each sender of a request."""
        limit, backlog = status.backlog_limit, status.backlog
        if not limit or backlog is None or backlog <= limit or not status.backlog_wait_time:
            return 0.0
        if self._hz is None:
            # kernel_hz measures HZ where no config says it; only a host
            # hiding /proc/timer_list too gets the guess (Debian's 250).
            self._hz = kernel_hz() or 250
        return status.backlog_wait_time / self._hz

    def _read_system(self, now: float) -> SystemInfo:
        system = self._system
        if (system is None or now - system.read_at >= SYSTEM_PERIOD
                or self._system_pid != self._last_pid):
            pid = self._last_pid
            if self._conf is None or self._conf[0] != pid:
                self._conf = (pid, auditd_conf_path(pid))
            system = read_system(pid, read_at=now, auditd_conf=self._conf[1],
                                 sock_diag=self._sock_diag,
                                 kernel_log_error=self._causes.unavailable)
            system = replace(system, auditd_log=self._follow(system))
            self._system, self._system_pid = system, pid
        return system

    def reread_system(self) -> None:
        """Read /proc and auditd's files afresh at the next poll (after
        asking auditd for a state report)."""
        self._system = None

    def _follow(self, system: SystemInfo) -> AuditdLogReading | None:
        """New CONFIG_CHANGE records in the log the running auditd writes."""
        if not self._last_pid:
            self._stop_following()
            return None
        path, why = log_path(system.config)
        if path is None:
            self._stop_following(why)
            return AuditdLogReading(None, why)
        if self._log is None or self._log.path != path:
            self._stop_following()
            self._log = AuditdLog(path)
        producers = self._producers
        from_log = producers.from_log
        self._log.tap = producers.feed_log if from_log else None  # a copy only when counted
        changes = tuple(self._log.poll())
        if from_log:
            producers.log_unreadable = self._log.unavailable
        return AuditdLogReading(path, self._log.unavailable, changes)

    def _stop_following(self, why: str = "auditd is not running") -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._producers.from_log:
            self._producers.log_unreadable = why

    def set(self, field: str, value: int) -> SetAck:
        ack = self._client.set(field, value)
        ticker = self._ticker  # this is a change's thread: the Monitor's may end it
        if ticker is not None:
            ticker.poll_now()  # its read-back: the next poll, at once
        return ack

    def close(self) -> None:
        self._stop_ticker()
        self._producers.close()
        self._stop_following()
        self._client.close()
        self._causes.close()


def _status(answer: Answer) -> AuditStatus | None:
    """The status in a ticker's answer; None for an error or anything else."""
    if answer.errno:
        return None
    try:
        messages = wire.split(answer.data)
        if not messages:
            return None
        message = wire.answer(messages, messages[0].seq, wire.AUDIT_GET)
        return wire.decode_status(message) if message is not None else None
    except AuditError:
        return None


def _can_hold(status) -> bool:
    """Whether the kernel may be holding senders, going by this answer."""
    limit, backlog = status.backlog_limit, status.backlog
    return bool(limit and backlog is not None and backlog >= limit
                and status.backlog_wait_time)


class Producers:
    """The multicast listener on demand (docs/producers.md): started on the
    first use, opened and closed by ListenerDuty from each poll's `lost`
    (a flag for its thread: the poll reads nothing), drained per window
    with the loaded rules (`auditctl -l`, again when a key shows up that
    they do not carry, at most every RULES_PERIOD). Where the listener
    cannot run (no CAP_AUDIT_READ: `unavailable` says so), auditd's log
    instead (core/producers.LogCounts, source "log"): no window while the
    log cannot be read (`log_unreadable`: no auditd, write_logs = no)."""

    def __init__(self, *, listener: bool) -> None:
        from auditop.core.producers import ListenerDuty, LogCounts

        self.listener = listener
        self.unavailable: str | None = None
        self._counter = None
        if listener:
            from auditop.probes.multicast import ProducerCounter
            self._counter = ProducerCounter.start(on_unavailable=self._say)
        # Without the listener (not asked for, or no CAP_AUDIT_READ), auditd's
        # log: LiveSource hands it the lines it reads (feed_log) and why it
        # cannot read them.
        self.from_log = self._counter is None or self.unavailable is not None
        self._log = LogCounts() if self.from_log else None
        self._log_since = time.monotonic()
        self.log_unreadable: str | None = "auditd's log is not read yet"
        self._duty = ListenerDuty()
        self._lost: int | None = None
        self._rules: dict[str, tuple[str, ...]] | None = None
        self._rules_at = float("-inf")

    def _say(self, why: str) -> None:
        self.unavailable = why

    def feed_log(self, lines: bytes, skipped_bytes: int) -> None:
        self._log.feed(lines, skipped_bytes)

    def duty(self, status, now: float) -> None:
        lost = status.lost if status is not None else None
        losing = lost is not None and self._lost is not None and lost > self._lost
        if lost is not None:
            self._lost = lost
        if self._counter is not None:
            self._counter.run(self._duty.wanted(now, losing))

    def drain(self):
        now = time.monotonic()
        counting = self._log is None or self._log.pending
        if counting and self._rules is None and now - self._rules_at >= RULES_PERIOD:
            self._load_rules(now)  # `auditctl -l`: only once there is something to name
        if self._log is not None:
            seconds, self._log_since = now - self._log_since, now
            names = None
            if self._log.pending:  # ausyscall's table, only once there is a record
                from auditop.probes.multicast import syscall_names
                names = syscall_names().name
            window = self._log.drain(seconds, rules=self._rules, syscall_name=names)
            return None if self.log_unreadable else window
        window = self._counter.drain(rules=self._rules)
        if (window is not None and self._rules is not None
                and now - self._rules_at >= RULES_PERIOD
                and any(p.name.endswith("(no such rule loaded)") for p in window.by_rule)):
            self._load_rules(now)  # rules changed: named right from the next window
        return window

    def _load_rules(self, now: float) -> None:
        from auditop.kernel.rules import list_rules

        self._rules_at = now
        self._rules = list_rules().by_key()

    def close(self) -> None:
        if self._counter is not None:
            self._counter.close()
