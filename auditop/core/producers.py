"""Who fills the queue: a window's audit records counted by rule key, record
type, syscall, process name, executable, login user and rule (issue 16). Pure:
records in, a frozen WindowProducers out; the socket that receives them is
probes/multicast.py, the rules come from kernel/rules.py.

What is counted, and how cheaply:

* `by_type` counts every record, exactly, from the netlink header's type.
* Every other dimension comes from the event's SYSCALL record (1300), which
  carries `key=`, `comm=`, `exe=`, `auid=` and `syscall=`. The other records of
  the event (CWD, PATH, PROCTITLE, EOE, ...) share its serial number
  (`audit(<time>:<serial>)`) and are attributed to the same key, process and
  rule, so `records` in every list counts records, not events, and the lists
  add up to the window's records.
* A SYSCALL record is parsed with `bytes.find` for each field, never a regular
  expression (about 1.5 us; a regex per record cost 3.5 us, the issue's
  figure). When records come faster than `parse_budget` SYSCALL records per
  second, only 1 in N events is parsed (`sampled` says the share, 0-1) and
  the counts of the parsed events are scaled by N: an estimate, said so.
* Records of no syscall event (USER_*, DAEMON_*, AVC, ...) and records of
  events whose SYSCALL record was not seen are the name `(none)` in the
  dimensions that come from the SYSCALL record: the lists always add up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

AUDIT_SYSCALL = 1300
AUDIT_EOE = 1320
# Records that belong to a syscall event (kernel/auditsc.c audit_log_exit and
# its aux records): 1300-1399. Outside it a record is its own event.
EVENT_TYPES = range(1300, 1400)

TOP = 10  # entries per list before `other`
NONE = "(none)"  # a record of no parsed syscall event
NO_KEY = "(no key)"  # key=(null): the rule that fired has no key
OTHER = "other"
UNSET_AUID = 4294967295

TYPE_NAMES = {
    1006: "LOGIN", 1100: "USER_AUTH", 1101: "USER_ACCT", 1103: "CRED_ACQ",
    1104: "CRED_DISP", 1105: "USER_START", 1106: "USER_END", 1107: "AVC_USER",
    1108: "USER_CHAUTHTOK", 1110: "CRED_REFR", 1112: "USER_LOGIN", 1113: "USER_LOGOUT",
    1200: "DAEMON_START", 1201: "DAEMON_END", 1202: "DAEMON_ABORT", 1203: "DAEMON_CONFIG",
    1300: "SYSCALL", 1302: "PATH", 1303: "IPC", 1304: "SOCKETCALL", 1305: "CONFIG_CHANGE",
    1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE", 1311: "IPC_SET_PERM", 1312: "MQ_OPEN",
    1318: "FD_PAIR", 1320: "EOE", 1321: "FANOTIFY", 1325: "NETFILTER_CFG",
    1326: "SECCOMP", 1327: "PROCTITLE", 1328: "FEATURE_CHANGE", 1329: "REPLACE",
    1330: "KERN_MODULE", 1331: "FANOTIFY", 1332: "TIME_INJOFFSET", 1333: "TIME_ADJNTPVAL",
    1334: "BPF", 1335: "EVENT_LISTENER", 1336: "URINGOP", 1337: "OPENAT2",
    1400: "AVC", 1401: "SELINUX_ERR", 1700: "ANOM_PROMISCUOUS", 1701: "ANOM_ABEND",
    1702: "ANOM_LINK", 1703: "ANOM_CREAT", 2000: "KERNEL",
}


TYPE_NUMBERS = {name: number for number, name in TYPE_NAMES.items()}
# Types auditd's log names that TYPE_NAMES does not: an id of their own,
# outside every event range, so the log's names reach `by_type` unchanged.
_LOG_ONLY_NAMES: dict[int, str] = {}
_LOG_ONLY_IDS: dict[str, int] = {}
_LOG_ONLY_BASE = 1_000_000


def type_name(mtype: int) -> str:
    return TYPE_NAMES.get(mtype) or _LOG_ONLY_NAMES.get(mtype) or str(mtype)


def type_number(name: bytes) -> int:
    """The type of a log line's `type=NAME`: the kernel's number (auditd
    writes `UNKNOWN[1334]` for one it cannot name), else an id of its own."""
    text = name.decode("ascii", "replace")
    number = TYPE_NUMBERS.get(text)
    if number is not None:
        return number
    if text.startswith("UNKNOWN[") and text.endswith("]") and text[8:-1].isdigit():
        return int(text[8:-1])
    ident = _LOG_ONLY_IDS.get(text)
    if ident is not None:
        return ident
    if len(_LOG_ONLY_IDS) >= 256:  # a bound: a corrupt log cannot grow it
        return 0
    ident = _LOG_ONLY_IDS[text] = _LOG_ONLY_BASE + len(_LOG_ONLY_IDS)
    _LOG_ONLY_NAMES[ident] = text
    return ident


@dataclass(frozen=True, slots=True)
class Producer:
    """One entry of a list: `records` in the window (an estimate when the
    window was sampled), `per_s`, and `share` of the window's records."""

    name: str
    records: int
    per_s: float
    share: float

    def as_json(self) -> dict:
        return {"name": self.name, "records": self.records,
                "per_s": round(self.per_s, 1), "share": round(self.share, 4)}


DIMENSIONS = ("by_key", "by_type", "by_syscall", "by_comm", "by_exe", "by_auid", "by_rule")


@dataclass(frozen=True, slots=True)
class WindowProducers:
    """A window's producers. `source` is "kernel" (the multicast listener) or
    "log" (auditd's log); `records` every record seen; `sampled` the share of
    syscall events parsed (1.0 = all); `missed` records the listener lost
    (its socket overran: they are not in `records`, nor lost by the kernel);
    `listened` the share of the window the listener was open, `seconds` the
    time it was (rates are per second listened)."""

    source: str
    seconds: float
    records: int
    sampled: float
    by_key: tuple[Producer, ...] = ()
    by_type: tuple[Producer, ...] = ()
    by_syscall: tuple[Producer, ...] = ()
    by_comm: tuple[Producer, ...] = ()
    by_exe: tuple[Producer, ...] = ()
    by_auid: tuple[Producer, ...] = ()
    by_rule: tuple[Producer, ...] = ()
    missed: int = 0
    listened: float = 1.0  # share of the window the listener was open (1 s in 5: 0.2)

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def top(self, dimension: str = "by_key") -> Producer | None:
        """The largest named entry of a list (never `other` or `(none)`)."""
        for entry in getattr(self, dimension):
            if entry.name not in (OTHER, NONE):
                return entry
        return None

    def as_json(self) -> dict:
        out: dict = {"source": self.source, "records": self.records,
                     "sampled": round(self.sampled, 4)}
        for name in DIMENSIONS:
            out[name] = [entry.as_json() for entry in getattr(self, name)]
        out["missed"] = self.missed
        out["listened"] = round(self.listened, 3)
        return out


def ranked(counts: Mapping[str, float], total: int, seconds: float,
           top: int = TOP) -> tuple[Producer, ...]:
    """Largest first (ties by name), the first `top` named, the rest as one
    `other` entry; shares of `total`."""
    items = sorted(((name, int(round(n))) for name, n in counts.items() if n > 0),
                   key=lambda item: (-item[1], item[0]))
    head, tail = items[:top], items[top:]
    if tail:
        head.append((OTHER, sum(n for _, n in tail)))
    return tuple(Producer(name, n, n / seconds if seconds > 0 else 0.0,
                          n / total if total else 0.0) for name, n in head)


# -- parsing one SYSCALL record ------------------------------------------------

def _field(payload: bytes, tag: bytes) -> bytes | None:
    """The raw value after ` tag` (tag includes '='), up to the next space."""
    start = payload.find(tag)
    if start < 0:
        return None
    start += len(tag)
    if payload[start:start + 1] == b'"':
        end = payload.find(b'"', start + 1)
        return payload[start:end + 1] if end > 0 else payload[start:]
    end = payload.find(b" ", start)
    return payload[start:] if end < 0 else payload[start:end]


def untrusted(value: bytes | None) -> str:
    """An audit_log_untrustedstring value: "quoted" as is, else hex-encoded
    (a name with a space, a quote or a control character), `(null)` as is."""
    if value is None:
        return "?"
    if value[:1] == b'"':
        return value[1:-1].decode("utf-8", "replace")
    if value == b"(null)":
        return "(null)"
    try:
        return bytes.fromhex(value.decode("ascii")).decode("utf-8", "replace")
    except ValueError:
        return value.decode("utf-8", "replace")


def key_name(value: bytes | None) -> str:
    """key=(null) is no key; several keys (-k a -k b) arrive hex-encoded,
    joined by \\x01: written a,b."""
    if value is None or value == b"(null)":
        return NO_KEY
    return untrusted(value).replace("\x01", ",")


@dataclass(frozen=True, slots=True)
class Event:
    """One SYSCALL record's fields, decoded (names resolved later)."""

    key: str
    arch: str
    syscall: str
    comm: str
    exe: str
    auid: str


# The raw fields of a SYSCALL record, as bytes: (key, arch, syscall, comm,
# exe, auid). Counting keys on these, and decoding each distinct one once per
# window, keeps the per-record work to a few finds and slices.
RawEvent = tuple


def raw_fields(payload: bytes) -> RawEvent:
    """(key, arch, syscall, comm, exe, auid) of a SYSCALL record, raw. The
    kernel writes them in this order (auditsc.c audit_log_exit: arch syscall
    ... auid ... comm exe subj key), `key=` last; a value with a space is
    hex-encoded, so a space ends every value. 1.4 us a record measured here
    (a regex for the same six: 1.5-2.1 us)."""
    f = payload.find
    a = f(b" arch=") + 6
    space = f(b" ", a)
    s = space + 9  # " syscall="
    u = f(b" auid=", s) + 6
    c = f(b" comm=", u) + 6
    e = f(b" exe=", c)
    k = payload.rfind(b" key=")
    if a < 6 or u < 6 or c < 6 or e < 0 or k < 0 or not payload.startswith(b" syscall=", space):
        return _raw_slow(payload)
    end_s, end_u, end_e = f(b" ", s), f(b" ", u), f(b" ", e + 5)
    return (payload[k + 5:], payload[a:space], payload[s:end_s], payload[c:e],
            payload[e + 5:end_e if end_e > 0 else None], payload[u:end_u])


def _raw_slow(payload: bytes) -> RawEvent:
    """Any order, any field missing (None): a record of another shape."""
    return (_field(payload, b" key="), _field(payload, b" arch="),
            _field(payload, b" syscall="), _field(payload, b" comm="),
            _field(payload, b" exe="), _field(payload, b" auid="))


def decode(raw: RawEvent) -> Event:
    key, arch, syscall, comm, exe, auid = raw
    return Event(key=key_name(key),
                 arch=(arch or b"?").decode("ascii", "replace"),
                 syscall=(syscall or b"?").decode("ascii", "replace"),
                 comm=untrusted(comm), exe=untrusted(exe),
                 auid=(auid or b"?").decode("ascii", "replace"))


def parse_syscall(payload: bytes) -> Event:
    """The fields of a SYSCALL record's text (bytes.find, no regex)."""
    return decode(raw_fields(payload))


def serial_of(payload: bytes) -> bytes | None:
    """The event serial of `audit(1733600000.123:4567): ...` as bytes."""
    colon = payload.find(b":", 6)
    close = payload.find(b")", colon)
    if colon < 0 or close < 0:
        return None
    return payload[colon + 1:close]


# -- counting a window ---------------------------------------------------------

def choose_every(syscalls_per_s: float, parse_budget: float) -> int:
    """Parse 1 in N events so that at most `parse_budget` SYSCALL records a
    second are parsed (1 = all)."""
    if parse_budget <= 0 or syscalls_per_s <= parse_budget:
        return 1
    return math.ceil(syscalls_per_s / parse_budget)


@dataclass
class ProducerCounts:
    """One window's counts, filled record by record (`add` or `add_many`)
    from one thread; `window()` turns them into a WindowProducers. Not
    thread-safe: the listener keeps one per window and hands it over whole.
    `every` = parse 1 in N SYSCALL records (1 = all)."""

    every: int = 1
    records: int = 0
    syscalls: int = 0
    parsed: int = 0
    types: dict[int, int] = field(default_factory=dict)
    events: dict[RawEvent, int] = field(default_factory=dict)  # records per kind of event
    _open: dict[bytes, RawEvent] = field(default_factory=dict)  # serial -> event, until EOE

    MAX_OPEN = 4096  # events awaiting their EOE; a bound, not a tuning knob

    def add(self, mtype: int, payload: bytes) -> None:
        self.records += 1
        types = self.types
        types[mtype] = types.get(mtype, 0) + 1
        if mtype == AUDIT_SYSCALL:
            self.syscalls += 1
            if self.syscalls % self.every:
                return
            self.parsed += 1
            event = raw_fields(payload)
            self.events[event] = self.events.get(event, 0) + 1
            serial = serial_of(payload)
            if serial is not None:
                if len(self._open) >= self.MAX_OPEN:
                    self._open.clear()  # EOEs went missing (overrun): start over
                self._open[serial] = event
        elif 1300 < mtype < 1400 and self._open:
            serial = serial_of(payload)
            event = self._open.get(serial) if mtype != AUDIT_EOE else self._open.pop(serial, None)
            if event is not None:
                self.events[event] = self.events.get(event, 0) + 1

    def add_many(self, records: Iterable[tuple[int, bytes]]) -> None:
        add = self.add
        for mtype, payload in records:
            add(mtype, payload)

    def carry(self) -> ProducerCounts:
        """A fresh window that keeps the events still awaiting their EOE
        (a window boundary does not cut an event's records off its key)."""
        return ProducerCounts(every=self.every, _open=dict(self._open))

    @property
    def sampled(self) -> float:
        return self.parsed / self.syscalls if self.syscalls else 1.0

    def window(self, seconds: float, *, source: str = "kernel", missed: int = 0,
               rules: Mapping[str, tuple[str, ...]] | None = None,
               syscall_name: Callable[[str, str], str] | None = None,
               user_name: Callable[[str], str] | None = None,
               top: int = TOP) -> WindowProducers:
        """The window's WindowProducers. `rules` maps a key to the rules
        that carry it (kernel/rules.py); `syscall_name(arch, number)` and
        `user_name(auid)` resolve names (defaults: the number; pwd)."""
        syscall_name = syscall_name or (lambda arch, nr: nr)
        user_name = user_name or auid_name
        # Records of events parsed in an earlier window (carried) count 1:1.
        scale = 1.0 / self.sampled if self.sampled else 0.0
        dims: dict[str, dict[str, float]] = {name: {} for name in DIMENSIONS if name != "by_type"}
        attributed = 0.0
        decoded: dict[Event, float] = {}
        for raw, count in self.events.items():  # a few distinct kinds: decode each once
            event = decode(raw)
            decoded[event] = decoded.get(event, 0.0) + count
        for event, count in decoded.items():
            n = count * scale
            attributed += n
            _bump(dims["by_key"], event.key, n)
            _bump(dims["by_syscall"], syscall_name(event.arch, event.syscall), n)
            _bump(dims["by_comm"], event.comm, n)
            _bump(dims["by_exe"], event.exe, n)
            _bump(dims["by_auid"], user_name(event.auid), n)
            _bump(dims["by_rule"], rule_for(event.key, rules), n)
        rest = self.records - attributed
        if rest >= 0.5:
            for counts in dims.values():
                _bump(counts, NONE, rest)
        lists = {name: ranked(counts, self.records, seconds, top) for name, counts in dims.items()}
        lists["by_type"] = ranked({type_name(t): n for t, n in self.types.items()},
                                  self.records, seconds, top)
        return WindowProducers(source=source, seconds=seconds, records=self.records,
                               sampled=self.sampled, missed=missed, **lists)


# -- auditd's log as the source (no CAP_AUDIT_READ) -------------------------------

LOG_PARSE_BYTES = 256 * 1024  # parsed of each read of the log; the rest only counted
SEGMENTS = 64  # pieces of a larger read that are parsed
ENRICHED = b"\x1d"  # log_format ENRICHED: interpreted names follow the record


def log_record(line: bytes) -> tuple[int, bytes] | None:
    """(type, the record's text as the kernel sent it) of one line of
    auditd's log, `type=SYSCALL msg=audit(...): arch=...`; None for a line
    of another shape. The names ENRICHED appends after 0x1d are dropped."""
    if not line.startswith(b"type="):
        return None
    space = line.find(b" ", 5)
    msg = line.find(b"msg=", space) if space > 0 else -1
    if msg < 0:
        return None
    end = line.find(ENRICHED, msg)
    return type_number(line[5:space]), line[msg + 4:end if end >= 0 else None]


class LogCounts:
    """Producers from auditd's log, a window at a time: the log costs the
    kernel nothing (the listener's copies cost kauditd), but it lags by up
    to a read of the log and is silent while auditd does not write.

    Every line is counted (bytes.count: exact `records`), at most
    `parse_bytes` of each read are parsed, and the lists are scaled from
    them to all the lines (`sampled` says the share). Bytes the reader
    jumped over (too far behind) are `missed`, in lines of the average
    length parsed."""

    def __init__(self, parse_bytes: int = LOG_PARSE_BYTES) -> None:
        self.parse_bytes = parse_bytes
        self._new_window()
        self._counts = ProducerCounts()

    def _new_window(self) -> None:
        self._lines = self._parsed_lines = self._parsed_bytes = self._skipped = 0

    @property
    def pending(self) -> bool:
        """Lines were fed since the last drain."""
        return bool(self._lines)

    def feed(self, lines: bytes, skipped_bytes: int = 0) -> None:
        """Complete lines read from the log, and the bytes jumped over. A
        read larger than `parse_bytes` is parsed in SEGMENTS pieces spread
        over it (the first bytes alone are a few milliseconds of a flood)."""
        self._skipped += skipped_bytes
        if not lines:
            return
        self._lines += lines.count(b"\n") + (not lines.endswith(b"\n"))
        size = len(lines)
        if size <= self.parse_bytes:
            self._parse(lines)
            return
        piece = self.parse_bytes // SEGMENTS
        for i in range(SEGMENTS):
            start = i * size // SEGMENTS
            if start:
                # From the next event's first record (its SYSCALL), so no
                # piece begins with records cut off from their key.
                event = lines.find(b"\ntype=SYSCALL ", start - 1)
                start = (event if event >= 0 else lines.find(b"\n", start - 1)) + 1
                if start <= 0:
                    break
            cut = lines.rfind(b"\n", start, start + piece) + 1
            if cut > start:
                self._parse(lines[start:cut])

    def _parse(self, chunk: bytes) -> None:
        parts = chunk.split(b"\n")  # auditd ends its lines with \n alone
        if parts and not parts[-1]:
            parts.pop()
        self._parsed_lines += len(parts)
        self._parsed_bytes += len(chunk)
        add = self._counts.add
        for line in parts:
            record = log_record(line)
            if record is not None:
                add(*record)

    def drain(self, seconds: float, *, rules: Mapping[str, tuple[str, ...]] | None = None,
              syscall_name: Callable[[str, str], str] | None = None,
              user_name: Callable[[str], str] | None = None) -> WindowProducers:
        counts, self._counts = self._counts, self._counts.carry()
        lines, parsed, parsed_bytes, skipped = (self._lines, self._parsed_lines,
                                                self._parsed_bytes, self._skipped)
        self._new_window()
        window = counts.window(seconds, source="log", rules=rules,
                               syscall_name=syscall_name, user_name=user_name)
        share = parsed / lines if lines else 1.0
        missed = round(skipped / (parsed_bytes / parsed)) if skipped and parsed else 0
        if lines > parsed and parsed:
            factor = lines / parsed
            window = replace(window, **{name: tuple(
                Producer(e.name, int(round(e.records * factor)), e.per_s * factor, e.share)
                for e in getattr(window, name)) for name in DIMENSIONS})
        return replace(window, records=lines, sampled=window.sampled * share, missed=missed)


def _bump(counts: dict[str, float], name: str, n: float) -> None:
    counts[name] = counts.get(name, 0.0) + n


def rule_for(key: str, rules: Mapping[str, tuple[str, ...]] | None) -> str:
    """The rule a key names: the rule's text when one rule carries it; with
    several, the first and how many more; the key itself when the rules are
    unknown or none carries it (a rule deleted since, or no key)."""
    if key == NO_KEY:
        return "(rule without a key)"
    found = (rules or {}).get(key, ())
    if not found:
        return f"-k {key}" if rules is None else f"-k {key} (no such rule loaded)"
    if len(found) == 1:
        return found[0]
    return f"{found[0]} (+{len(found) - 1} more with -k {key})"


_users: dict[str, str] = {}


def auid_name(auid: str) -> str:
    """`1000 (alice)`, `unset` for 4294967295; pwd looked up once per auid."""
    name = _users.get(auid)
    if name is None:
        if auid in (str(UNSET_AUID), "-1"):
            name = "unset"
        else:
            try:
                import pwd  # stdlib; here so core stays importable anywhere
                name = f"{auid} ({pwd.getpwuid(int(auid)).pw_name})"
            except (KeyError, ValueError, ImportError):
                name = auid
        if len(_users) < 10_000:
            _users[auid] = name
    return name


# -- when the listener runs (docs/producers.md) ----------------------------------

@dataclass
class ListenerDuty:
    """On demand, and only while it does not hurt: the listener runs
    continuously while the kernel loses nothing, and `on_s` of every
    `period_s` while it loses records (a continuous listener cost auditd a
    third of its drain rate in the lab with a small queue). The first
    `on_s` of a lossy spell is listened, so the culprit is named at once;
    `calm_s` without loss ends the spell. Pure: the caller passes the clock
    and whether records were lost since its last call.

        counter.run(duty.wanted(now, lost_delta > 0))
    """

    on_s: float = 1.0
    period_s: float = 5.0
    calm_s: float = 5.0
    _spell: float | None = None  # when the lossy spell began
    _last_loss: float | None = None

    def wanted(self, now: float, losing: bool) -> bool:
        if losing:
            self._last_loss = now
            if self._spell is None:
                self._spell = now
        elif self._spell is not None and now - (self._last_loss or now) >= self.calm_s:
            self._spell = self._last_loss = None
        if self._spell is None:
            return True
        return (now - self._spell) % self.period_s < self.on_s

    @property
    def losing(self) -> bool:
        return self._spell is not None


# -- totals for counters (export/prometheus.py) -------------------------------------

METRIC_TOP = 10  # label values per dimension before `other`


@dataclass
class ProducerTotals:
    """Records per rule key and per record type since auditop started, for
    Prometheus counters with a bounded label set: the first `top` names seen
    (largest first in each window) keep their own label for good, every later
    one adds to `other`, so a counter never goes down and a host flooded by
    random keys still exposes at most top + 1 series per dimension. Windows
    are added once each, by the time they closed (`catch_up`)."""

    top: int = METRIC_TOP
    by_key: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    last_end: float | None = None  # the newest window added
    windows: int = 0  # windows that carried producers

    def add(self, producers: WindowProducers) -> None:
        self.windows += 1
        for totals, entries in ((self.by_key, producers.by_key),
                                (self.by_type, producers.by_type)):
            for entry in entries:
                name = entry.name
                if name != OTHER and name not in totals:
                    named = sum(1 for n in totals if n != OTHER)
                    if named >= self.top:
                        name = OTHER
                totals[name] = totals.get(name, 0) + entry.records

    def catch_up(self, windows: Iterable) -> ProducerTotals:
        """Add the windows (oldest first) that closed after the newest one
        added; those without producers only move the mark."""
        for window in windows:
            if self.last_end is not None and window.end <= self.last_end:
                continue
            self.last_end = window.end
            if window.producers is not None:
                self.add(window.producers)
        return self
