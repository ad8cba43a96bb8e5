"""Reading small files without raising: probes run at 10 Hz on a live box."""

from __future__ import annotations


def read_text(path: str) -> str | None:
    """The whole file as text, or None if it is missing or unreadable.

    Bytes that are not UTF-8 (process names can be anything) are replaced,
    never an error.
    """
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def read_int(path: str) -> int | None:
    """A file holding one decimal integer (a sysctl), or None."""
    return int_or_none(read_text(path))


def int_or_none(text: str | None) -> int | None:
    """A decimal integer (blanks around it allowed), or None."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
