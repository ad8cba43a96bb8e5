"""What each setting may be: its default and its check; the keymap's ids and keys."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable, Literal

from auditop.core.findings import Thresholds

Weight = Literal["warning", "critical", "ok"]

# Same as auditop.export.prometheus.DEFAULT_PORT (the reason for the number is
# there). Not imported: prometheus_client costs ~70 ms at import, and every
# command reads the config. tests/unit/test_config.py keeps the two equal.
DEFAULT_EXPORTER_PORT = 10090

# The TUI's bindings that a keymap may rebind, by id, with their built-in keys
# (auditop/tui/app.py; tests/unit/test_config.py keeps the two equal). Here, not
# imported from there: reading the config must not import Textual.
DEFAULT_KEYS: dict[str, str] = {
    "quit": "q", "help": "question_mark", "pause": "p", "double": "plus",
    "halve": "minus", "exact": "b", "restore": "u",
    "interval.shorter": "left_square_bracket", "interval.longer": "right_square_bracket",
    "plot": "g", "auditd-state": "i", "producers": "W",
    # auditop --demo (DEMO_ACTIONS in auditop/sources/demo.py, and the tour)
    "demo.flood": "f", "demo.burst": "o", "demo.bursts": "e", "demo.stall": "s",
    "demo.disk": "d", "demo.rotate": "l", "demo.kill": "k", "demo.restart": "a",
    "demo.rmem": "m", "demo.wait": "w", "demo.failure": "c", "demo.reset": "r",
    "demo.tour": "t", "demo.tour-back": "left_curly_bracket",
    "demo.tour-next": "right_curly_bracket",
    # auditop replay (auditop/tui/screens/replay.py)
    "replay.back": "left", "replay.forward": "right", "replay.next": "n",
    "replay.previous": "N", "replay.slower": "less_than_sign",
    "replay.faster": "greater_than_sign", "replay.start": "shift+left",
    "replay.end": "shift+right", "replay.goto": "j", "replay.search": "slash",
    "replay.again": "semicolon",
}
KEYMAP_IDS: tuple[str, ...] = tuple(DEFAULT_KEYS)
# Keys the screen needs for something else; a keymap may not take them.
RESERVED_KEYS: dict[str, str] = {
    "ctrl+q": "Textual's own quit", "ctrl+c": "Textual's own quit help",
    "up": "the findings list", "down": "the findings list", "enter": "the findings list",
    "home": "the findings list", "end": "the findings list",
    "pageup": "the findings list", "pagedown": "the findings list",
    "tab": "moving the focus", "shift+tab": "moving the focus",
}

# `[check]` key -> the state weight it gives a finding.
CHECK_LISTS: dict[str, Weight] = {"warn": "warning", "crit": "critical", "ok": "ok"}

THRESHOLDS = Thresholds()
_INT_MAX = 2**31 - 1  # the kernel's int sysctls; q_depth, rmem_default
_U32_MAX = 2**32 - 1  # backlog_limit is a u32

# --- the settings and their validators ------------------------------------

@dataclass(frozen=True, slots=True)
class Spec:
    default: Any
    check: Callable[[Any], Any]  # returns the value to use, or raises Bad(what it must be)


class Bad(Exception):
    """A value is wrong; the argument says what it must be."""


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if (isinstance(value, (int, float)) and not isinstance(value, bool)
                and low <= value <= high):
            return float(value)
        raise Bad(f"a number between {low:g} and {high:g}")
    return check


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise Bad(f"a whole number between {low} and {high}")
    return check


def _fraction(value: Any) -> float:
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value <= 1):
        return float(value)
    raise Bad("a fraction above 0 and at most 1 (0.8 is 80%)")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Bad("true or false")


_FINDING_ID = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def _finding_ids(value: Any) -> tuple[str, ...]:
    if (isinstance(value, list)
            and all(isinstance(v, str) and _FINDING_ID.fullmatch(v) for v in value)):
        return tuple(dict.fromkeys(value))
    raise Bad('a list of finding ids, like ["backlog-high", "rate-limit"]')


_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")


def parse_listen(text: str) -> tuple[str, int]:
    """"host:port" (IPv6 as "[::1]:port") -> (host, port); ValueError if it is not one.
    Also the parser for the exporter's --listen flag."""
    host, colon, port = text.rpartition(":") if isinstance(text, str) else ("", "", "")
    if not colon or not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError('"host:port" with a port between 1 and 65535')
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])), int(port)
        except ValueError:
            raise ValueError(f"an IPv6 address in brackets, not {host}") from None
    if len(host) > 253 or not host.isascii() or not _HOSTNAME.fullmatch(host):
        raise ValueError('"host:port" with an IPv4 address, a host name or '
                         '[an IPv6 address] before the colon')
    return host, int(port)


def _listen(value: Any) -> str:
    if isinstance(value, str):
        try:
            parse_listen(value)
            return value
        except ValueError as exc:
            raise Bad(str(exc)) from None
    raise Bad('"host:port" with a port between 1 and 65535')


# One Textual key: "z", "Z", "f5", "plus", "left_square_bracket", "ctrl+p".
_KEY = re.compile(r"((ctrl|shift|alt|meta|super|hyper)\+)*([a-z0-9_]+|[A-Z])")


def _keys(value: Any) -> str:
    if isinstance(value, str) and all(_KEY.fullmatch(k) for k in value.split(",")):
        return value
    raise Bad('Textual key names, comma-separated without spaces, like "z", "f5", '
               '"ctrl+p" or "z,f5" (punctuation by name: "plus", "left_square_bracket")')


def _threshold_specs() -> dict[str, Spec]:
    """One spec per field of Thresholds: ints positive, floats fractions."""
    highs = {"backlog_limit": _U32_MAX}
    specs = {}
    for f in dataclasses.fields(Thresholds):
        default = getattr(THRESHOLDS, f.name)
        check = (_fraction if isinstance(default, float)
                 else _whole(1, highs.get(f.name, _INT_MAX)))
        specs[f"thresholds.{f.name}"] = Spec(default, check)
    return specs


SPECS: dict[str, Spec] = {
    "interval": Spec(1.0, _number(0.1, 3600)),
    "sample_rate": Spec(10.0, _number(0.1, 200)),
    "read_only": Spec(False, _boolean),
    "backlog_limit_step": Spec(2, _whole(2, 16)),
    **_threshold_specs(),
    **{f"check.{name}": Spec((), _finding_ids) for name in CHECK_LISTS},
    "exporter.listen": Spec(f"127.0.0.1:{DEFAULT_EXPORTER_PORT}", _listen),
}
_KEYMAP_SPEC = Spec(None, _keys)
TABLES: tuple[str, ...] = ("thresholds", "check", "exporter", "keymap")


def spec_of(name: str) -> Spec | None:
    if name.startswith("keymap."):
        return _KEYMAP_SPEC if name[len("keymap."):] in KEYMAP_IDS else None
    return SPECS.get(name)


def defaults() -> dict[str, Any]:
    return {name: spec.default for name, spec in SPECS.items()}

