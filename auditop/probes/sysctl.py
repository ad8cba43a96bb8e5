"""The socket buffer sysctls that size auditd's netlink receive buffer.

auditd 3.x sets no SO_RCVBUF, so it runs with net.core.rmem_default.
Read every call (two tiny files): an admin may raise them while we watch.
"""

from __future__ import annotations

import os

from auditop.probes._files import read_int


def read_rmem(proc_root: str = "/proc") -> tuple[int | None, int | None]:
    """(net.core.rmem_default, net.core.rmem_max) in bytes; None if unreadable."""
    core = os.path.join(proc_root, "sys", "net", "core")
    return read_int(os.path.join(core, "rmem_default")), read_int(os.path.join(core, "rmem_max"))
