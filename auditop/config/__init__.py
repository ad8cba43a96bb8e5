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

Who reads it: auditop/cli.py resolves the settings once for every command
(`effective(load(), flags)`, flags given as None when not given), and the
commands pass them on: interval, sample_rate and thresholds to the Monitor,
the [check] weights to `auditop check`, read_only and backlog_limit_step and
the keymap to the TUI (`App.set_keymap`), exporter.listen to `auditop
exporter`. `auditop config show` prints `show_text(effective(...))`.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import platformdirs

# DEFAULT_EXPORTER_PORT, DEFAULT_KEYS, KEYMAP_IDS and parse_listen are part of this API.
from auditop.config.specs import (CHECK_LISTS, DEFAULT_EXPORTER_PORT, DEFAULT_KEYS, KEYMAP_IDS,
                                  RESERVED_KEYS, SPECS, TABLES, THRESHOLDS, Bad, Weight, defaults, parse_listen,
                                  spec_of)
from auditop.config.where import ConfigError, error_at, show_value, syntax_error
from auditop.core.findings import Finding, Thresholds
from auditop.paths import APP


def config_path() -> Path:
    """Where the config file lives; nothing is created."""
    return platformdirs.user_config_path(APP) / "config.toml"


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
        raise syntax_error(text, path, str(exc)) from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return validate(document, text, path)


def validate(document: Mapping[str, Any], text: str = "",
             path: Path | str = "config.toml") -> dict[str, Any]:
    """Check a parsed TOML document; `text` is the file's text, for line numbers."""
    values: dict[str, Any] = {}
    for name, value in _flatten(document, text, path):
        spec = spec_of(name)
        if spec is None:
            raise _unknown(name, value, text, path)
        try:
            values[name] = spec.check(value)
        except Bad as bad:
            raise _value_error(name, value, str(bad), text, path) from None
    _check_consistent({**defaults(), **values}, values,
                      lambda name, message: error_at(name, message, text, path))
    return values


def _flatten(document: Mapping[str, Any], text: str,
             path: Path | str) -> Iterable[tuple[str, Any]]:
    for key, value in document.items():
        if key not in TABLES:
            yield key, value
        elif not isinstance(value, dict):
            raise error_at(key, f"{key} must be a table ([{key}]), not {show_value(value)}",
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
    built_in = {key: binding_id for binding_id, key in DEFAULT_KEYS.items()}
    for name, keys in merged.items():
        if not name.startswith("keymap."):
            continue
        binding_id = name[len("keymap."):]
        for key in keys.split(","):
            if key in bound:
                raise error(name, f'key "{key}" is bound to both {bound[key]} and {name}')
            bound[key] = name
            if key in RESERVED_KEYS and not (key == "ctrl+q" and binding_id == "quit"):
                raise error(name, f'{name}: key "{key}" is kept for {RESERVED_KEYS[key]}')
            owner = built_in.get(key)
            if owner is not None and owner != binding_id and f"keymap.{owner}" not in merged:
                raise error(name, f'{name}: key "{key}" is already {owner}\'s; give '
                                  f"keymap.{owner} another key too")


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
    return error_at(name, message, text, path)


def _value_error(name: str, value: Any, must: str, text: str,
                 path: Path | str) -> ConfigError:
    return error_at(name, f"{name} must be {must}, not {show_value(value)}", text, path)



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
        spec = spec_of(name)
        if spec is None:
            raise ValueError(f"not a setting: {name}")
        try:
            checked = spec.check(list(value) if isinstance(value, tuple) else value)
        except Bad as bad:
            raise ConfigError(f"{CLI_ORIGIN}: {name} must be {bad}, not {show_value(value)}") from None
        result[name] = (checked, CLI_ORIGIN)
        given.add(name)
    _check_consistent({name: value for name, (value, _) in result.items()}, given,
                      lambda name, message: ConfigError(f"{result[name][1]}: {message}"))
    return result


def show_text(settings: Mapping[str, tuple[Any, str]]) -> str:
    """`auditop config show`: one line per setting, `name = value  (origin)`."""
    lines = [f"{name} = {show_value(value, limit=200)}  ({origin})"
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
    thresholds: Thresholds = THRESHOLDS
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
        """Findings with the [check] overrides applied as severities: a finding in
        `warn` or `crit` gets that severity; one in `ok` becomes info. `auditop
        check` does not use this: it passes `check_weights` to
        export/check.check_line, which weighs live trouble and configuration
        risks apart (docs/check.md)."""
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
