"""Kernel errors as messages a person can act on."""

from __future__ import annotations

import errno
import os


class AuditError(Exception):
    """Base class: str(error) is one line fit to show a user."""

    exit_code = 1


class NotPrivileged(AuditError):
    def __init__(self) -> None:
        super().__init__(
            "the kernel refused: auditop needs CAP_AUDIT_CONTROL: run as root")


class AuditLocked(AuditError):
    def __init__(self) -> None:
        super().__init__(
            "audit configuration is locked (enabled = 2): nothing can be changed "
            "until reboot")


class NoAuditSupport(AuditError):
    def __init__(self) -> None:
        super().__init__(
            "this kernel has no audit support (NETLINK_AUDIT unavailable; "
            "CONFIG_AUDIT is off or audit=0 at boot)")


class NotInitialNamespace(AuditError):
    def __init__(self) -> None:
        super().__init__(
            "the kernel refused the connection: audit is only available from the "
            "initial user and pid namespace (run auditop on the host, not in a "
            "container)")


class InvalidValue(AuditError):
    exit_code = 2

    def __init__(self, what: str) -> None:
        super().__init__(f"the kernel rejected the value: {what}")


class NoAnswer(AuditError):
    """The kernel did not answer in time. Since 5.17 it makes any sender sleep
    up to backlog_wait_time while the backlog is over its limit."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"no answer from the kernel for {seconds:.1f} s (it makes senders "
            "wait while the backlog is full)")


class ProtocolError(AuditError):
    """A reply auditop cannot decode (truncated, malformed)."""


def from_errno(code: int, what: str = "") -> AuditError:
    """Map a positive errno from the kernel or a socket call to an AuditError."""
    if code in (errno.EPERM, errno.EACCES):
        return NotPrivileged()
    if code == errno.EPROTONOSUPPORT:
        return NoAuditSupport()
    if code == errno.ECONNREFUSED:
        return NotInitialNamespace()
    if code == errno.EINVAL:
        return InvalidValue(what or "invalid argument")
    return AuditError(f"kernel error: {errno.errorcode.get(code, code)} "
                      f"({os.strerror(code)})")
