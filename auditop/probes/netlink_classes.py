"""pyroute2's netlink message classes, without the rest of pyroute2.

`from pyroute2.netlink import ...` runs pyroute2's package `__init__` first,
and that loads IPRoute, NDB and IPDB, none of which auditop uses: 90 of the
150 ms that importing the live source takes, on the path to the TUI's first
frame. So when nothing has imported pyroute2 yet, its package is registered
unexecuted (its submodules import as usual, from the same directory) before
`pyroute2.netlink` is imported. Every pyroute2 import of auditop goes
through here (kernel/wire.py, probes/sockdiag.py).
"""

from __future__ import annotations

import importlib.util
import sys

if "pyroute2" not in sys.modules:
    _spec = importlib.util.find_spec("pyroute2")
    if _spec is not None and _spec.submodule_search_locations:
        sys.modules["pyroute2"] = importlib.util.module_from_spec(_spec)

from pyroute2.netlink import (NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,  # noqa: E402
                              NLMSG_ERROR, nlmsg)

__all__ = ["NLMSG_ERROR", "NLM_F_ACK", "NLM_F_DUMP", "NLM_F_REQUEST", "nlmsg"]
