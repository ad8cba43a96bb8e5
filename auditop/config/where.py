"""Where a setting is in the file's text, and how a value is spelt: for error
messages of one line that name the file, the line and the key."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from auditop.config.specs import TABLES


class ConfigError(Exception):
    """A config file (or command-line value) auditop cannot use. str() is one line."""


# --- errors: one line, naming the file, the line and the key ----------------

_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def syntax_error(text: str, path: Path | str, message: str) -> ConfigError:
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
        at = f" at {show_value(source)}" if source else ""
        return ConfigError(f"{path} line {line}: not valid TOML{at}: {what} "
                           f"(column {match.group(2)})")
    return ConfigError(f"{path}: not valid TOML: {one_line(what)} (at the end of the file)")


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


def error_at(name: str, message: str, text: str, path: Path | str) -> ConfigError:
    line = line_of(text, name)
    where = f"{path} line {line}" if line else f"{path}"
    return ConfigError(f"{where}: {one_line(message)}")


_TABLE = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?")


def _key_pattern(parts: list[str]) -> re.Pattern[str]:
    """`a.b =`, with each part bare or quoted, at the start of a line."""
    alternatives = [rf"""(?:{re.escape(p)}|"{re.escape(p)}"|'{re.escape(p)}')""" for p in parts]
    return re.compile(r"\s*" + r"\s*\.\s*".join(alternatives) + r"\s*=")


def line_of(text: str, name: str) -> int | None:
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


def show_value(value: Any, limit: int = 60) -> str:
    """A value as the file would spell it, short and on one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(show_value(v, limit) for v in value[:10]) + (
            ", ..." if len(value) > 10 else "") + "]"
    elif isinstance(value, dict):
        text = "a table"
    else:
        text = str(value)  # int, float, date, time, datetime
    text = one_line(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def one_line(text: str) -> str:
    return " ".join(text.splitlines())

