"""Is this process in the initial pid namespace? The kernel answers EPERM to
audit requests from any other (audit_netlink_ok), exactly as it does to a
caller without CAP_AUDIT_CONTROL, so only this tells the two apart."""

from __future__ import annotations

import os

# include/linux/proc_ns.h: the initial namespaces have fixed inode numbers.
PROC_PID_INIT_INO = 0xEFFFFFFC


def in_initial_pid_namespace(path: str = "/proc/self/ns/pid") -> bool:
    """True when it cannot be told (no /proc): assume the common case."""
    # The link names the namespace ("pid:[4026531836]"); stat() of it gives
    # the nsfs inode, which newer kernels number apart (6.18 here: 11507).
    try:
        link = os.readlink(path)
    except OSError:
        return True
    digits = link.partition("[")[2].rstrip("]")
    return not digits.isdigit() or int(digits) == PROC_PID_INIT_INO
