"""Every change auditop applies, appended to a JSON-lines log in the state
directory: time, who (user, uid, login_user, loginuid), field, old, new,
result.

Who is taken from the process, never from $USER or $LOGNAME (anyone sets
those): the real uid, and the login uid the kernel keeps for the session
through su and sudo (/proc/self/loginuid, the `auid` of audit records;
4294967295 when unset, as for a service started at boot: null then). Each
with its name from the password database, or the number as text when it has
no entry."""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

from auditop import paths

LOGINUID = Path("/proc/self/loginuid")
UNSET_LOGINUID = 2**32 - 1  # (uid_t)-1


class ChangeLogUnwritable(OSError):
    """The log could not be written (state directory read-only, full, not a
    directory...): str() is one line, where and why."""

    def __init__(self, error: OSError, path: Path | None) -> None:
        where = error.filename if error.filename is not None else path
        super().__init__(error.errno, error.strerror or str(error), str(where))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def append_change(field: str, old: int | None, new: int | None, result: str,
                  path: Path | None = None) -> Path:
    """`result` is "ok" or the error the person was shown. Raises
    ChangeLogUnwritable (an OSError) when the log cannot be written."""
    entry = {"time": time.time(), **who(), "field": field, "old": old, "new": new,
             "result": result}
    try:
        path = path or paths.change_log()  # creates the state directory
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
    except OSError as error:
        raise ChangeLogUnwritable(error, path) from None
    return path


def who() -> dict[str, str | int | None]:
    uid, loginuid = os.getuid(), login_uid()
    return {"user": _name(uid), "uid": uid,
            "login_user": None if loginuid is None else _name(loginuid),
            "loginuid": loginuid}


def login_uid() -> int | None:
    """The login uid, or None when it is unset or cannot be read."""
    try:
        value = int(LOGINUID.read_text().strip())
    except (OSError, ValueError):
        return None
    return None if value == UNSET_LOGINUID else value


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no entry in the password database
        return str(uid)
