"""Errors as messages a person can act on. Pure: the kernel client, the
sources, the Monitor and the commands all raise and catch these."""

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


class NotInitialPidNamespace(AuditError):
    """EPERM for a caller outside the initial pid namespace (audit_netlink_ok):
    root in a container gets this, whatever its capabilities."""

    def __init__(self) -> None:
        super().__init__(
            "the kernel refused: audit answers only processes in the initial pid "
            "namespace, and this one is in a container's: run auditop on the host")


class NotInitialUserNamespace(AuditError):
    """ECONNREFUSED: the caller is outside the initial user namespace."""

    def __init__(self) -> None:
        super().__init__(
            "the kernel refused the connection: audit is not available outside the "
            "initial user namespace (a rootless container?): run auditop on the host")


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


class InvalidValue(AuditError):
    exit_code = 2

    def __init__(self, what: str) -> None:
        super().__init__(f"the kernel rejected the value: {what}")


class NoAnswer(AuditError):
    """The kernel did not answer in time."""

    def __init__(self, seconds: float, why: str = "") -> None:
        self.seconds = seconds
        super().__init__(f"no answer from the kernel for {seconds:.1f} s"
                         + (f" ({why})" if why else ""))


class SendersHeld(AuditError):
    """Every sender auditop allows itself is asleep in the kernel: since 5.17
    the kernel makes any process that sends it an audit request sleep up to
    backlog_wait_time while the backlog is over its limit."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count, self.seconds = count, seconds
        super().__init__(
            f"the kernel is holding {count} of auditop's senders (the longest for "
            f"{seconds:.1f} s): the backlog is over its limit")


class ProtocolError(AuditError):
    """A reply auditop cannot decode (truncated, malformed)."""


# Errors no retry will cure: a command or the TUI must say so and stop.
FATAL = (NotPrivileged, NoAuditSupport, NotInitialPidNamespace, NotInitialUserNamespace)


def from_errno(code: int, what: str = "", *, initial_pid_namespace: bool = True
               ) -> AuditError:
    """Map a positive errno from the kernel or a socket call to an AuditError.
    The kernel answers EPERM both to a caller without CAP_AUDIT_CONTROL and to
    one outside the initial pid namespace: the caller says which it is.
    The error keeps the errno, so a caller can refine the mapping."""
    error = _from_errno(code, what, initial_pid_namespace)
    error.errno = code
    return error


def _from_errno(code: int, what: str, initial_pid_namespace: bool) -> AuditError:
    if code in (errno.EPERM, errno.EACCES):
        return NotPrivileged() if initial_pid_namespace else NotInitialPidNamespace()
    if code == errno.EPROTONOSUPPORT:
        return NoAuditSupport()
    if code == errno.ECONNREFUSED:
        return NotInitialUserNamespace()
    if code == errno.EINVAL:
        return InvalidValue(what or "invalid argument")
    return AuditError(f"kernel error: {errno.errorcode.get(code, code)} "
                      f"({os.strerror(code)})")


class InternalError(AuditError):
    """A bug in auditop (a probe, a rule), shown as what it is, never as the
    kernel's silence."""

    exit_code = 70  # EX_SOFTWARE

    def __init__(self, error: BaseException) -> None:
        self.error = error
        where = ""
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
        super().__init__(f"internal error (a bug in auditop): {type(error).__name__}: "
                         f"{error}{where}")


def as_audit_error(error: BaseException) -> AuditError:
    return error if isinstance(error, AuditError) else InternalError(error)
