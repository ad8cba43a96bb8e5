"""The user's config file: a TOML file at the platformdirs config path.

    interval = 2.0             # display window, seconds
    sample_rate = 10.0         # polls per second underneath
    read_only = false
    backlog_limit_step = 2     # what + and - multiply and divide backlog_limit by

    [thresholds]               # the fields of auditop.core.findings.Thresholds
    backlog_warning = 0.5

    [check]                    # `auditop check`: override a finding's state
    warn = ["rate-limit"]
    crit = []
    ok = ["log-format-enriched"]

    [exporter]
    listen = "127.0.0.1:10090"

    [keymap]                   # binding id = Textual key name(s), comma-separated
    pause = "z"

Precedence: the command line wins over the file, the file over the defaults.
Reading never creates anything; a missing file means the defaults. A broken
file raises one ConfigError whose text is one line naming the file, the line
and the key. Settings have flat, dotted names ("interval",
"thresholds.backlog_warning", "keymap.pause"), the same in the file's tables,
in `effective()` and in `auditop config show`.

Wiring, one line each:

    config_path()                                              # auditop config path
    print(show_text(effective(load(), cli)))                   # auditop config show
    settings = load_settings(cli)                              # everything else
    app.set_keymap(settings.keymap)                            # the TUI
    check_line(window, settings.weigh(findings), settings.thresholds)

where `cli` maps setting names to flag values, None for a flag not given
(argparse `default=None`).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Literal, Mapping

import platformdirs

from auditop.core.findings import Finding, Thresholds
from auditop.paths import APP

Weight = Literal["warning", "critical", "ok"]

# Same as auditop.export.prometheus.DEFAULT_PORT (the reason for the number is
# there). Not imported: prometheus_client costs ~70 ms at import, and every
# command reads the config. tests/unit/test_config.py keeps the two equal.
DEFAULT_EXPORTER_PORT = 10090

# The ids of the TUI's bindings that a keymap may rebind (auditop/tui/app.py).
KEYMAP_IDS: tuple[str, ...] = (
    "quit", "help", "pause", "double", "halve", "exact", "restore",
    "interval.shorter", "interval.longer",
)

# `[check]` key -> the state weight it gives a finding.
CHECK_LISTS: dict[str, Weight] = {"warn": "warning", "crit": "critical", "ok": "ok"}

_THRESHOLDS = Thresholds()
_INT_MAX = 2**31 - 1  # the kernel's int sysctls; q_depth, rmem_default
_U32_MAX = 2**32 - 1  # backlog_limit is a u32


class ConfigError(Exception):
    """A config file (or command-line value) auditop cannot use. str() is one line."""


def config_path() -> Path:
    """Where the config file lives; nothing is created."""
    return platformdirs.user_config_path(APP) / "config.toml"


# --- the settings and their validators ------------------------------------

@dataclass(frozen=True, slots=True)
class _Spec:
    default: Any
    check: Callable[[Any], Any]  # returns the value to use, or raises _Bad(what it must be)


class _Bad(Exception):
    """A value is wrong; the argument says what it must be."""


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if (isinstance(value, (int, float)) and not isinstance(value, bool)
                and low <= value <= high):
            return float(value)
        raise _Bad(f"a number between {low:g} and {high:g}")
    return check


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        raise _Bad(f"a whole number between {low} and {high}")
    return check


def _fraction(value: Any) -> float:
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value <= 1):
        return float(value)
    raise _Bad("a fraction above 0 and at most 1 (0.8 is 80%)")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Bad("true or false")


_FINDING_ID = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def _finding_ids(value: Any) -> tuple[str, ...]:
    if (isinstance(value, list)
            and all(isinstance(v, str) and _FINDING_ID.fullmatch(v) for v in value)):
        return tuple(dict.fromkeys(value))
    raise _Bad('a list of finding ids, like ["backlog-high", "rate-limit"]')


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
            raise _Bad(str(exc)) from None
    raise _Bad('"host:port" with a port between 1 and 65535')


# One Textual key: "z", "Z", "f5", "plus", "left_square_bracket", "ctrl+p".
_KEY = re.compile(r"((ctrl|shift|alt|meta|super|hyper)\+)*([a-z0-9_]+|[A-Z])")


def _keys(value: Any) -> str:
    if isinstance(value, str) and all(_KEY.fullmatch(k) for k in value.split(",")):
        return value
    raise _Bad('Textual key names, comma-separated without spaces, like "z", "f5", '
               '"ctrl+p" or "z,f5" (punctuation by name: "plus", "left_square_bracket")')


def _threshold_specs() -> dict[str, _Spec]:
    """One spec per field of Thresholds: ints positive, floats fractions."""
    highs = {"backlog_limit": _U32_MAX}
    specs = {}
    for f in dataclasses.fields(Thresholds):
        default = getattr(_THRESHOLDS, f.name)
        check = (_fraction if isinstance(default, float)
                 else _whole(1, highs.get(f.name, _INT_MAX)))
        specs[f"thresholds.{f.name}"] = _Spec(default, check)
    return specs


SPECS: dict[str, _Spec] = {
    "interval": _Spec(1.0, _number(0.1, 3600)),
    "sample_rate": _Spec(10.0, _number(0.1, 200)),
    "read_only": _Spec(False, _boolean),
    "backlog_limit_step": _Spec(2, _whole(2, 16)),
    **_threshold_specs(),
    **{f"check.{name}": _Spec((), _finding_ids) for name in CHECK_LISTS},
    "exporter.listen": _Spec(f"127.0.0.1:{DEFAULT_EXPORTER_PORT}", _listen),
}
_KEYMAP_SPEC = _Spec(None, _keys)
TABLES: tuple[str, ...] = ("thresholds", "check", "exporter", "keymap")


def _spec(name: str) -> _Spec | None:
    if name.startswith("keymap."):
        return _KEYMAP_SPEC if name[len("keymap."):] in KEYMAP_IDS else None
    return SPECS.get(name)


def defaults() -> dict[str, Any]:
    return {name: spec.default for name, spec in SPECS.items()}


# --- reading the file -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FileSettings:
    """What the file says: only the settings it sets, validated."""

    path: Path
    exists: bool
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"config file {self.path}"


def load(path: Path | None = None) -> FileSettings:
    """Read and validate the config file (default: config_path()).
    A missing file is no error: it means the defaults."""
    path = config_path() if path is None else Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return FileSettings(path, exists=False, values={})
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not UTF-8 text") from None
    return FileSettings(path, exists=True, values=parse(text, path))


def parse(text: str, path: Path | str = "config.toml") -> dict[str, Any]:
    """The settings a config text sets, by flat name, validated; ConfigError otherwise."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(text, path, str(exc)) from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return validate(document, text, path)


def validate(document: Mapping[str, Any], text: str = "",
             path: Path | str = "config.toml") -> dict[str, Any]:
    """Check a parsed TOML document; `text` is the file's text, for line numbers."""
    values: dict[str, Any] = {}
    for name, value in _flatten(document, text, path):
        spec = _spec(name)
        if spec is None:
            raise _unknown(name, value, text, path)
        try:
            values[name] = spec.check(value)
        except _Bad as bad:
            raise _value_error(name, value, str(bad), text, path) from None
    _check_consistent({**defaults(), **values}, values,
                      lambda name, message: _error_at(name, message, text, path))
    return values


def _flatten(document: Mapping[str, Any], text: str,
             path: Path | str) -> Iterable[tuple[str, Any]]:
    for key, value in document.items():
        if key not in TABLES:
            yield key, value
        elif not isinstance(value, dict):
            raise _error_at(key, f"{key} must be a table ([{key}]), not {_show(value)}",
                            text, path)
        elif key == "keymap":
            # Binding ids have dots: `interval.shorter = "x"` is a dotted key in TOML.
            yield from _dotted(key, value)
        else:
            for sub, sub_value in value.items():
                yield f"{key}.{sub}", sub_value


def _dotted(prefix: str, table: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _dotted(f"{prefix}.{key}", value)
        else:
            yield f"{prefix}.{key}", value


def _check_consistent(merged: Mapping[str, Any], prefer: Iterable[str],
                      error: Callable[[str, str], ConfigError]) -> None:
    """Rules across settings: the warning threshold is not above the critical one;
    a finding id is in at most one [check] list; no key is bound twice. `prefer`:
    the names to blame first (those the newest source set)."""
    prefer = set(prefer)
    warn, crit = "thresholds.backlog_warning", "thresholds.backlog_critical"
    if merged[warn] > merged[crit]:
        raise error(crit if crit in prefer and warn not in prefer else warn,
                    f"{warn} ({merged[warn]:g}) must not be above {crit} ({merged[crit]:g})")
    seen: dict[str, str] = {}
    for name in (f"check.{key}" for key in CHECK_LISTS):
        for finding_id in merged[name]:
            if finding_id in seen:
                raise error(name, f'finding "{finding_id}" is in both {seen[finding_id]} '
                                  f"and {name}")
            seen[finding_id] = name
    bound: dict[str, str] = {}
    for name, keys in merged.items():
        if name.startswith("keymap."):
            for key in keys.split(","):
                if key in bound:
                    raise error(name, f'key "{key}" is bound to both {bound[key]} and {name}')
                bound[key] = name


# --- errors: one line, naming the file, the line and the key ----------------

_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _syntax_error(text: str, path: Path | str, message: str) -> ConfigError:
    """tomllib says "<what> (at line L, column C)" or "(at end of document)"."""
    match = _AT.search(message)
    what = _AT.sub("", message)
    lines = text.split("\n")  # tomllib counts "\n" only
    duplicate = _duplicate_key_line(lines) if what.startswith("Cannot overwrite") else None
    if duplicate is not None:
        line, name = duplicate
        return ConfigError(f"{path} line {line}: not valid TOML: {name} is set twice")
    if match and match.group(1):
        line = int(match.group(1))
        source = lines[line - 1].strip() if line <= len(lines) else ""
        at = f" at {_show(source)}" if source else ""
        return ConfigError(f"{path} line {line}: not valid TOML{at}: {what} "
                           f"(column {match.group(2)})")
    return ConfigError(f"{path}: not valid TOML: {_one_line(what)} (at the end of the file)")


_SIMPLE_KEY = re.compile(r"\s*([A-Za-z0-9_.\-]+|\"[^\"]*\"|'[^']*')\s*=")


def _duplicate_key_line(lines: list[str]) -> tuple[int, str] | None:
    """tomllib reports a key set twice at the end of the document; find it."""
    table, seen = "", set()
    for number, line in enumerate(lines, 1):
        header = _TABLE.fullmatch(line)
        if header:
            table = header.group(1).strip()
            continue
        key = _SIMPLE_KEY.match(line)
        if key:
            name = f"{table}.{key.group(1)}" if table else key.group(1)
            if name in seen:
                return number, name
            seen.add(name)
    return None


def _unknown(name: str, value: Any, text: str, path: Path | str) -> ConfigError:
    if name.startswith("keymap."):
        message = f"{name} is not a binding id (known: {', '.join(KEYMAP_IDS)})"
    else:
        if isinstance(value, dict):
            message = f"unknown table [{name}]"
        else:
            message = f"unknown setting {name}"
        close = difflib.get_close_matches(name, [*SPECS, *TABLES], n=1)
        if close:
            message += f" (did you mean {close[0]}?)"
    return _error_at(name, message, text, path)


def _value_error(name: str, value: Any, must: str, text: str,
                 path: Path | str) -> ConfigError:
    return _error_at(name, f"{name} must be {must}, not {_show(value)}", text, path)


def _error_at(name: str, message: str, text: str, path: Path | str) -> ConfigError:
    line = _line_of(text, name)
    where = f"{path} line {line}" if line else f"{path}"
    return ConfigError(f"{where}: {_one_line(message)}")


_TABLE = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?")


def _key_pattern(parts: list[str]) -> re.Pattern[str]:
    """`a.b =`, with each part bare or quoted, at the start of a line."""
    alternatives = [rf"""(?:{re.escape(p)}|"{re.escape(p)}"|'{re.escape(p)}')""" for p in parts]
    return re.compile(r"\s*" + r"\s*\.\s*".join(alternatives) + r"\s*=")


def _line_of(text: str, name: str) -> int | None:
    """The line (1-based) where setting `name` is set: `key =` under its [table],
    `table.key =` at the top level, or a table header named `name`; None when
    it cannot be found (an inline table, say)."""
    first, _, rest = name.partition(".")
    searches: list[tuple[str | None, re.Pattern[str]]] = []
    if first in TABLES and rest:
        searches.append((first, _key_pattern([rest])))
        searches.append((None, _key_pattern([first, rest])))
    else:
        searches.append((None, _key_pattern([name])))
    lines = text.split("\n")
    for want_table, pattern in searches:
        table: str | None = None
        for number, line in enumerate(lines, 1):
            header = _TABLE.fullmatch(line)
            if header and not line.lstrip().startswith("[["):
                table = header.group(1).strip().strip("\"'")
                if table == name:
                    return number
            elif table == want_table and pattern.match(line):
                return number
    return None


def _show(value: Any, limit: int = 60) -> str:
    """A value as the file would spell it, short and on one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v, limit) for v in value[:10]) + (
            ", ..." if len(value) > 10 else "") + "]"
    elif isinstance(value, dict):
        text = "a table"
    else:
        text = str(value)  # int, float, date, time, datetime
    text = _one_line(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


# --- precedence -------------------------------------------------------------

DEFAULT_ORIGIN = "default"
CLI_ORIGIN = "command line"


def effective(file_settings: FileSettings | None = None,
              cli_overrides: Mapping[str, Any] | None = None
              ) -> dict[str, tuple[Any, str]]:
    """Every setting with its value and where it came from: "default",
    "config file <path>" or "command line". A None in cli_overrides means the
    flag was not given (argparse default=None). Command-line values are checked
    like the file's; a bad one raises ConfigError, an unknown name ValueError."""
    result: dict[str, tuple[Any, str]] = {
        name: (value, DEFAULT_ORIGIN) for name, value in defaults().items()}
    if file_settings is not None:
        for name, value in file_settings.values.items():
            result[name] = (value, file_settings.origin)
    given = set()
    for name, value in (cli_overrides or {}).items():
        if value is None:
            continue
        spec = _spec(name)
        if spec is None:
            raise ValueError(f"not a setting: {name}")
        try:
            checked = spec.check(list(value) if isinstance(value, tuple) else value)
        except _Bad as bad:
            raise ConfigError(f"{CLI_ORIGIN}: {name} must be {bad}, not {_show(value)}") from None
        result[name] = (checked, CLI_ORIGIN)
        given.add(name)
    _check_consistent({name: value for name, (value, _) in result.items()}, given,
                      lambda name, message: ConfigError(f"{result[name][1]}: {message}"))
    return result


def show_text(settings: Mapping[str, tuple[Any, str]]) -> str:
    """`auditop config show`: one line per setting, `name = value  (origin)`."""
    lines = [f"{name} = {_show(value, limit=200)}  ({origin})"
             for name, (value, origin) in settings.items()]
    if not any(name.startswith("keymap.") for name in settings):
        lines.append(f"keymap = {{}}  ({DEFAULT_ORIGIN}: the built-in keys)")
    return "\n".join(lines)


# --- typed access -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Settings:
    interval: float = SPECS["interval"].default
    sample_rate: float = SPECS["sample_rate"].default
    read_only: bool = SPECS["read_only"].default
    backlog_limit_step: int = SPECS["backlog_limit_step"].default
    thresholds: Thresholds = _THRESHOLDS
    listen: tuple[str, int] = parse_listen(SPECS["exporter.listen"].default)
    check_weights: Mapping[str, Weight] = field(default_factory=dict)
    keymap: Mapping[str, str] = field(default_factory=dict)  # for App.set_keymap

    @classmethod
    def from_effective(cls, settings: Mapping[str, tuple[Any, str]]) -> Settings:
        value = {name: v for name, (v, _) in settings.items()}
        thresholds = Thresholds(**{
            f.name: value[f"thresholds.{f.name}"] for f in dataclasses.fields(Thresholds)})
        weights = {finding_id: weight for key, weight in CHECK_LISTS.items()
                   for finding_id in value[f"check.{key}"]}
        keymap = {name[len("keymap."):]: keys for name, keys in value.items()
                  if name.startswith("keymap.")}
        return cls(interval=value["interval"], sample_rate=value["sample_rate"],
                   read_only=value["read_only"],
                   backlog_limit_step=value["backlog_limit_step"],
                   thresholds=thresholds, listen=parse_listen(value["exporter.listen"]),
                   check_weights=MappingProxyType(weights),
                   keymap=MappingProxyType(keymap))

    def weigh(self, findings: Iterable[Finding]) -> list[Finding]:
        """Findings with the [check] overrides applied, for `auditop check`: a finding
        in `warn` or `crit` gets that severity; one in `ok` becomes info (shown,
        never raising the state)."""
        weighed = []
        for finding in findings:
            weight = self.check_weights.get(finding.id)
            if weight is not None:
                severity = "info" if weight == "ok" else weight
                finding = dataclasses.replace(finding, severity=severity)
            weighed.append(finding)
        return weighed


def load_settings(cli_overrides: Mapping[str, Any] | None = None,
                  path: Path | None = None) -> Settings:
    """The config file and the flags, resolved: the usual entry point."""
    return Settings.from_effective(effective(load(path), cli_overrides))
