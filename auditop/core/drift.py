"""Drift watch: a setting that changed between two answered samples, and
auditop did not change it (pure).

Watched: enabled, failure, backlog_limit, rate_limit, backlog_wait_time.
Each answered status is compared with the previous answered one, so a
change is seen within one poll (100 ms at 10 Hz), also after a silence.

auditop's own changes are not drift: the Monitor calls expect(field) before
it sends a SET (through its inbox, so before any sample polled after the
SET), and the first change of that field seen after it is auditop's. The
expectation is dropped when the change path has read the value back
(settle), or after OWN_CHANGE_SECONDS.

Who made a change comes from auditd's log (probes/auditd_log.py): each
CONFIG_CHANGE record (field, old, new, time) is matched to the change it
describes, whichever of the two is seen first; records arrive at the 2 Hz
system-probe rate, so a change is often named half a second after it is
seen.

The demo's own actions (its keys, its tour) are told apart too: its
simulated auditd logs a CONFIG_CHANGE record for each, from the process
DEMO_ACTOR, and the change is named "by the demo".

What a change says is history (old -> new, when); what a setting is now,
and how dangerous, comes from the newest status (now_critical, current).

A change is kept (the `setting-changed` finding, `setting_changes` in the
JSON) for KEEP_SECONDS after it was seen, and in any case until the display
window it happened in has closed, so every `record` line of that window
carries it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from auditop.core.model import AuditStatus, ConfigChangeRecord, Sample, SystemInfo

WATCHED = ("enabled", "failure", "backlog_limit", "rate_limit", "backlog_wait_time")
KEEP_SECONDS = 300.0  # a change stays on screen and in recordings this long
OWN_CHANGE_SECONDS = 30.0  # an expectation of auditop's own change lapses after this
MATCH_SLACK = 2.0  # seconds between a record's time and the samples around the change
RECORDS_KEPT = 256  # recent CONFIG_CHANGE records not matched yet
CHANGES_KEPT = 64
AUID_UNSET = 4294967295  # (u32)-1: no login session
DEMO_ACTOR = "the demo"  # the process the demo's simulated auditd names for its own actions


@dataclass(frozen=True, slots=True)
class SettingChange:
    """A setting changed underneath auditop."""

    field: str
    old: int
    new: int
    time: float  # wall clock of the first sample that showed the new value
    mono: float
    after: float  # wall clock of the previous answered sample: it changed in between
    by: ConfigChangeRecord | None = None  # from auditd's log, once matched

    @property
    def critical(self) -> bool:
        """failure became 2 (the first lost record panics the machine) or
        enabled became 2 (audit locked until reboot): history; whether it
        is dangerous now is now_critical()."""
        return self.field in ("failure", "enabled") and self.new == 2

    def describes(self, record: ConfigChangeRecord) -> bool:
        return (record.field == self.field and record.old == self.old
                and record.new == self.new and record.res != 0
                and self.after - MATCH_SLACK <= record.time <= self.time + MATCH_SLACK)


def changed_fields(old: AuditStatus, new: AuditStatus) -> list[tuple[str, int, int]]:
    """(field, old, new) for every watched field both statuses carry and that differs."""
    found = []
    for name in WATCHED:
        before, after = getattr(old, name), getattr(new, name)
        if before is not None and after is not None and before != after:
            found.append((name, before, after))
    return found


@dataclass(slots=True)
class _Expected:
    field: str
    since: float  # mono when auditop was about to send the SET


class DriftWatch:
    """Fed every sample in order (History.add); only the Monitor's thread
    touches it."""

    def __init__(self) -> None:
        self.changes: deque[SettingChange] = deque(maxlen=CHANGES_KEPT)
        self.own = 0  # changes seen that auditop itself made
        self._previous: Sample | None = None  # newest answered sample
        self._expected: list[_Expected] = []
        self._records: deque[ConfigChangeRecord] = deque(maxlen=RECORDS_KEPT)
        self._seen: set[tuple[float, int]] = set()  # (time, serial) of records taken
        self._seen_order: deque[tuple[float, int]] = deque()
        self._system: SystemInfo | None = None  # the last system reading taken

    # -- auditop's own changes -------------------------------------------------

    def expect(self, field: str, mono: float) -> None:
        """auditop is about to set `field`: its next change is auditop's."""
        self._expected.append(_Expected(field, mono))

    def settle(self, field: str) -> None:
        """auditop's change of `field` was read back (or failed): no more to expect."""
        self._expected = [e for e in self._expected if e.field != field]

    # -- samples -----------------------------------------------------------------

    def observe(self, sample: Sample) -> None:
        system = sample.system
        if system is not None and system is not self._system:
            self._system = system
            if system.auditd_log is not None:
                self._take_records(system.auditd_log.changes)
        status = sample.status
        if status is None:
            return
        if self._expected:
            self._expected = [e for e in self._expected
                              if sample.mono - e.since <= OWN_CHANGE_SECONDS]
        previous, self._previous = self._previous, sample
        if previous is None:
            return
        for name, old, new in changed_fields(previous.status, status):
            own = next((e for e in self._expected if e.field == name), None)
            if own is not None:
                self._expected.remove(own)
                self.own += 1
                continue
            change = SettingChange(name, old, new, sample.time, sample.mono, previous.time)
            record = next((r for r in self._records if change.describes(r)), None)
            if record is not None:
                self._records.remove(record)
                change = replace(change, by=record)
            self.changes.append(change)

    def _take_records(self, records: tuple[ConfigChangeRecord, ...]) -> None:
        for record in records:
            key = (record.time, record.serial)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._seen_order.append(key)
            if len(self._seen_order) > 4 * RECORDS_KEPT:
                self._seen.discard(self._seen_order.popleft())
            for i, change in enumerate(self.changes):
                if change.by is None and change.describes(record):
                    self.changes[i] = replace(change, by=record)
                    break
            else:
                self._records.append(record)

    # -- reading ------------------------------------------------------------------

    def kept(self, now: float, window_since: float | None = None) -> tuple[SettingChange, ...]:
        """Changes seen within KEEP_SECONDS of `now` (mono), or after
        `window_since` (mono: where the newest closed window began), oldest first."""
        return tuple(c for c in self.changes
                     if now - c.mono <= KEEP_SECONDS
                     or (window_since is not None and c.mono > window_since))


CRITICAL_AT_2 = ("failure", "enabled")  # 2: panic on a lost record / locked until reboot


def current(change: SettingChange, status: AuditStatus | None) -> int:
    """The changed setting's value now: the newest status's, else the
    change's own new value (no status to say otherwise)."""
    value = getattr(status, change.field, None) if status is not None else None
    return change.new if value is None else value


def now_critical(changes: tuple[SettingChange, ...] | list[SettingChange],
                 status: AuditStatus | None) -> list[str]:
    """The changed fields that are 2 now (failure: panic; enabled: locked),
    by the newest status; not those that were 2 once and are not any more."""
    fields = dict.fromkeys(c.field for c in changes if c.field in CRITICAL_AT_2)
    latest = {c.field: c for c in changes}
    return [f for f in fields if current(latest[f], status) == 2]


def actor_text(record: ConfigChangeRecord) -> str:
    """"auditctl (pid 14356, auid unset)": who, in a few words."""
    who = record.comm or record.exe or "a process"
    parts = [f"pid {record.pid}"] if record.pid is not None else []
    if record.auid is not None:
        parts.append(f"auid {'unset' if record.auid == AUID_UNSET else record.auid}")
    return f"{who} ({', '.join(parts)})" if parts else who


def actor_details(record: ConfigChangeRecord) -> str:
    """Everything the log says about who, for the explanation."""
    def ident(value: int | None) -> str:
        return "unset" if value == AUID_UNSET else str(value)
    parts = []
    for label, value in (("pid", record.pid), ("ppid", record.ppid), ("uid", record.uid)):
        if value is not None:
            parts.append(f"{label} {value}")
    for label, value in (("auid", record.auid), ("session", record.ses)):
        if value is not None:  # auid: the login user, kept across su and sudo
            parts.append(f"{label} {ident(value)}")
    if record.exe:
        parts.append(f"exe {record.exe}")
    said = record.comm or "a process"
    if parts:
        said += f" ({', '.join(parts)})"
    if record.command:
        said += f", command line `{record.command}`"
    return said
