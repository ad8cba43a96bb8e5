"""Who fills the queue (issue 16): one rule key or one process producing
most of the records while records are lost or the backlog is high. Advice
only: which rule, how to narrow it, an exclude rule, what `aureport` would
confirm; nothing is applied."""

from __future__ import annotations

from auditop.core.findings.base import Facts, Found, rule
from auditop.core.history import Window
from auditop.core.producers import NO_KEY, NONE, WindowProducers
from auditop.core.text import rate_text, seconds_text, share_text, short_number

DOMINANT_SHARE = 0.6  # of the window's records: "most"
RECENT_WINDOWS = 10  # the listener runs 1 s in 5 while records are lost: look back


def recent_producers(f: Facts) -> tuple[WindowProducers, Window] | None:
    """The newest of the last RECENT_WINDOWS windows that counted records."""
    windows = list(f.history.windows)[-RECENT_WINDOWS:]
    for window in reversed(windows):
        if window.producers is not None and window.producers.records:
            return window.producers, window
    return None


def _pressed(f: Facts) -> str | None:
    """Why the producers matter now: records lost, or the backlog high."""
    window = f.window
    if window is None:
        return None
    if window.lost > 0:
        return f"the kernel is losing records ({rate_text(window.lost_per_s)})"
    limit = f.status.backlog_limit if f.status else None
    peak = window.backlog_peak
    if limit and peak is not None and peak >= f.limits.backlog_warning * limit:
        return f"the backlog peaked at {peak} of its limit {limit} ({share_text(peak, limit)})"
    return None


@rule("one-producer-dominates")
def one_producer_dominates(f: Facts) -> Found | None:
    why = _pressed(f)
    found = recent_producers(f) if why else None
    if found is None:
        return None
    producers, window = found
    key, comm = producers.top("by_key"), producers.top("by_comm")
    key = key if key is not None and key.share >= DOMINANT_SHARE else None
    comm = comm if comm is not None and comm.share >= DOMINANT_SHARE else None
    if key is None and comm is None:
        return None
    exe, ruled = producers.top("by_exe"), producers.top("by_rule")
    exe_name = exe.name if exe is not None and exe.name not in ("?", "(null)") else None
    age = (f.window.end - window.end) if f.window is not None else 0.0
    when = "in the last window" if age < 0.5 else f"{seconds_text(round(age))} ago"
    listened = (f", listening {share_text(producers.listened, 1)} of the window"
                if producers.listened < 0.995 else "")
    sampled = (f", 1 in {round(1 / producers.sampled)} events parsed"
               if 0 < producers.sampled < 0.995 else "")
    parts = []
    if key is not None:
        named = "a rule without a key" if key.name == NO_KEY else f"rule key {key.name}"
        title = (f"One rule fills the queue: {named} "
                 f"({share_text(key.share, 1)} of the records)")
        rule_text = ruled.name if ruled is not None and ruled.name != NONE else f"-k {key.name}"
        parts.append(f"The rule `{rule_text}` produced {share_text(key.share, 1)} of the "
                     f"{short_number(producers.records)} records counted {when} "
                     f"({short_number(key.per_s)}/s{listened}{sampled}).")
    else:
        title = (f"One process fills the queue: {comm.name} "
                 f"({share_text(comm.share, 1)} of the records)")
    if comm is not None:
        parts.append(f"The process {comm.name}" + (f" ({exe_name})" if exe_name else "")
                     + f" produced {share_text(comm.share, 1)} of them "
                     f"({short_number(comm.per_s)}/s).")
    parts.append(f"Meanwhile {why}: the queue fills with these records first.")
    advice = []
    if key is not None and key.name != NO_KEY:
        advice.append(f"Narrow the rule: fewer syscalls (-S), only writes (-F perm=wa), a "
                      f"narrower directory (-F dir=), only logged-in users "
                      f"(-F auid>=1000 -F auid!=unset), or only failures (-F success=0).")
    if exe_name:
        advice.append(f"Or stop auditing this program's syscalls with a rule placed before "
                      f"it (first match wins): `auditctl -A never,exit -F exe={exe_name}`; "
                      f"records of other types can be dropped with "
                      f"`-a exclude,always -F exe={exe_name}` where the kernel's exclude "
                      f"filter takes exe.")
    confirm = (f"aureport --summary -k -i --start recent" if key is not None
               else "aureport --summary -x -i --start recent")
    advice.append(f"`{confirm}` confirms it from auditd's log. auditop changes no rule.")
    remedy = (f"auditctl -A never,exit -F exe={exe_name}   # or narrow the rule; "
              f"confirm first: {confirm}" if exe_name else confirm)
    return Found("warning", title, " ".join(parts + advice), remedy)
