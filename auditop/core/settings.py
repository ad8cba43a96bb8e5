"""What auditop may change on the kernel, and which values the kernel takes.

Pure validation shared by `auditop set` and the TUI's exact-value dialog, so
both refuse the same input with the same words before anything is sent.
"""

from __future__ import annotations

from auditop.core.model import SETTABLE_FIELDS

U32_MAX = 2**32 - 1
# The kernel caps backlog_wait_time at 10 x AUDIT_BACKLOG_WAIT_TIME (60 * HZ
# jiffies). HZ is a build option; 1000 is the largest common one, so without
# knowing it we allow the largest value any common kernel takes and let the
# kernel's EINVAL speak for the rest.
MAX_COMMON_HZ = 1000

DESCRIPTIONS = {
    "backlog_limit": "records the kernel queues for auditd (0 = unlimited)",
    "rate_limit": "records per second before the kernel drops them (0 = no limit)",
    "backlog_wait_time": "jiffies a process waits for room in a full backlog",
}


class InvalidSetting(ValueError):
    """A value or field auditop refuses before talking to the kernel."""


def _shown(text: str, limit: int = 24) -> str:
    """The user's text, quoted and cut short (a 5000-digit value stays one line)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def max_value(field: str, hz: int | None = None) -> int:
    if field == "backlog_wait_time":
        return 10 * 60 * (hz or MAX_COMMON_HZ)
    return U32_MAX


def parse_setting(field: str, text: str, *, allow_unlimited: bool = False,
                  hz: int | None = None) -> int:
    """Turn user text into a value the kernel accepts, or raise InvalidSetting.

    0 for backlog_limit means *unlimited* (unbounded kernel memory), so it
    needs `allow_unlimited`.
    """
    if field not in SETTABLE_FIELDS:
        raise InvalidSetting(
            f"unknown field {field!r}: auditop sets {', '.join(SETTABLE_FIELDS)}")
    shown = _shown(text)
    text = text.strip(" \t\r\n")  # plain blanks only: int() refuses some that str.strip() takes
    # int() alone would also take "+5", "5_000", "٣" and "--5"; ask for one
    # optional minus and ASCII digits only.
    digits = text[1:] if text.startswith("-") else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise InvalidSetting(f"{field} must be a whole number, not {shown}")
    if text.startswith("-"):
        raise InvalidSetting(f"{field} cannot be negative ({shown})")
    top = max_value(field, hz)
    # Compare lengths first: int() refuses more than 4300 digits with a traceback.
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(top)) or int(significant) > top:
        raise InvalidSetting(f"{field} must be at most {top} ({shown} is too large)")
    value = int(significant)
    if field == "backlog_limit" and value == 0 and not allow_unlimited:
        raise InvalidSetting(
            "backlog_limit 0 means unlimited (kernel memory is then unbounded); "
            "ask for it explicitly")
    return value
