"""The auditd.conf keys that decide whether auditd keeps up, plus its plugins.

Parsed only when a file changed: the cache is keyed by the path and
remembers the (mtime_ns, size) of auditd.conf, the plugin directory and
each plugin file, so a repeated call costs a handful of stat() calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from auditop.core.model import AuditdConfig
from auditop.probes._files import read_text

DEFAULT_PLUGIN_DIR = "/etc/audit/plugins.d"
_LOWERED_KEYS = ("flush", "log_format", "overflow_action", "disp_qos")
_INT_KEYS = ("freq", "q_depth", "priority_boost", "report_interval")
_TEXT_KEYS = ("log_file", "write_logs")

Signature = tuple[int, int] | None  # (mtime_ns, size); None: missing


@dataclass(frozen=True, slots=True)
class _Cached:
    conf_signature: Signature
    plugin_dir: str
    plugin_files: tuple[str, ...]
    plugin_signatures: tuple[Signature, ...]  # the dir, then each file
    config: AuditdConfig

    def still_valid(self, conf_signature: Signature) -> bool:
        return conf_signature == self.conf_signature and self.plugin_signatures == (
            _plugin_signatures(self.plugin_dir, self.plugin_files)
        )


_cache: dict[tuple[str, str | None], _Cached] = {}


def read_auditd_config(
    path: str = "/etc/audit/auditd.conf", plugin_dir: str | None = None
) -> AuditdConfig | None:
    """auditd.conf at `path`, or None if it is missing or unreadable.

    `plugin_dir` overrides the file's `plugin_dir` key (itself defaulting
    to /etc/audit/plugins.d).
    """
    key = (path, plugin_dir)
    cached = _cache.get(key)
    conf_signature = _signature(path)
    if cached is not None and cached.still_valid(conf_signature):
        return cached.config
    text = read_text(path) if conf_signature is not None else None
    if text is None:
        _cache.pop(key, None)
        return None
    values = parse_conf(text)
    chosen_dir = plugin_dir or values.get("plugin_dir") or DEFAULT_PLUGIN_DIR
    plugin_files = _plugin_files(chosen_dir)
    config = _build_config(path, values, plugin_files)
    _cache[key] = _Cached(
        conf_signature,
        chosen_dir,
        plugin_files,
        _plugin_signatures(chosen_dir, plugin_files),
        config,
    )
    return config


def parse_conf(text: str) -> dict[str, str]:
    """`key = value` lines (whitespace around '=' optional); '#' starts a comment line.

    Keys are lower-cased; a repeated key keeps its last value.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip().lower(), value.strip()
        if sep and name and value:
            values[name] = value
    return values


def _build_config(path: str, values: dict[str, str], plugin_files: tuple[str, ...]) -> AuditdConfig:
    lowered = {k: values[k].lower() if k in values else None for k in _LOWERED_KEYS}
    ints = {k: _parse_uint(values.get(k)) for k in _INT_KEYS}
    texts = {k: values.get(k) for k in _TEXT_KEYS}
    plugins = tuple(name for name in map(_active_plugin_name, plugin_files) if name)
    return AuditdConfig(path=path, **lowered, **ints, **texts, active_plugins=plugins)


def _parse_uint(value: str | None) -> int | None:
    # auditd itself accepts only plain decimal digits for these keys.
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def _active_plugin_name(plugin_file: str) -> str | None:
    text = read_text(plugin_file)
    if text is None:
        return None
    values = parse_conf(text)
    if values.get("active", "").lower() != "yes":
        return None
    binary = values.get("path")
    if binary:
        return os.path.basename(binary)
    return os.path.splitext(os.path.basename(plugin_file))[0]


def _plugin_files(plugin_dir: str) -> tuple[str, ...]:
    """The *.conf regular files of the plugin directory, sorted."""
    try:
        names = sorted(os.listdir(plugin_dir))
    except OSError:
        return ()
    paths = [os.path.join(plugin_dir, n) for n in names if n.endswith(".conf")]
    return tuple(p for p in paths if os.path.isfile(p))


def _plugin_signatures(plugin_dir: str, plugin_files: tuple[str, ...]) -> tuple[Signature, ...]:
    # A new or removed plugin changes the directory's mtime; an edit in
    # place changes only the file's, so both are checked.
    return tuple(_signature(p) for p in (plugin_dir, *plugin_files))


def _signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def clear_cache() -> None:
    """Forget every parsed file (tests; after a config reload)."""
    _cache.clear()
