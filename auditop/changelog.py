"""Every change auditop applies, appended to a JSON-lines log in the state
directory: time, user, field, old, new, result."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path

from auditop import paths


def append_change(field: str, old: int | None, new: int | None, result: str,
                  path: Path | None = None) -> Path:
    """`result` is "ok" or the error the person was shown."""
    path = path or paths.change_log()
    entry = {"time": time.time(), "user": _user(), "field": field, "old": old,
             "new": new, "result": result}
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    return path


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        import os
        return str(os.getuid())
