"""NETLINK_AUDIT sockets, from sock_diag where it answers (with each
socket's real buffer, `rcvbuf`), else from /proc/net/netlink (without it).

/proc/net/netlink: columns are found by header name: kernels differ in spacing and older ones
lack Drops and Inode (reported as 0 then). Pid is printed unsigned, so
autobound negative portids show up as values >= 2**31; Groups is hex.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from auditop.core.model import NetlinkSocketRow
from auditop.probes._files import read_text

NETLINK_AUDIT = 9
AUDIT_NLGRP_READLOG_BIT = 1  # group 1 is bit 0 of the Groups column

# Used when the text has no header line (the modern kernel layout).
_DEFAULT_HEADER = ("sk", "eth", "pid", "groups", "rmem", "wmem", "dump", "locks", "drops", "inode")
_REQUIRED = ("eth", "pid")


def parse_netlink(text: str) -> list[NetlinkSocketRow]:
    """The NETLINK_AUDIT rows of /proc/net/netlink text; bad lines are skipped."""
    lines = text.splitlines()
    columns = _DEFAULT_HEADER
    if lines and lines[0].split()[:1] == ["sk"]:
        columns = tuple(name.lower() for name in lines[0].split())
        lines = lines[1:]
    if not all(name in columns for name in _REQUIRED):
        return []
    index = {name: i for i, name in enumerate(columns)}
    rows = []
    for line in lines:
        row = _parse_row(line.split(), index)
        if row is not None:
            rows.append(row)
    return rows


def _parse_row(parts: list[str], index: dict[str, int]) -> NetlinkSocketRow | None:
    if len(parts) < len(index):
        return None

    def number(name: str, base: int = 10) -> int:
        i = index.get(name)
        return 0 if i is None else int(parts[i], base)

    try:
        if number("eth") != NETLINK_AUDIT:
            return None
        return NetlinkSocketRow(
            portid=number("pid"),
            groups=number("groups", 16),
            rmem=number("rmem"),
            drops=number("drops"),
            inode=number("inode"),
        )
    except ValueError:
        return None


def pick_audit_sockets(
    rows: list[NetlinkSocketRow], pid: int | None
) -> tuple[NetlinkSocketRow | None, tuple[NetlinkSocketRow, ...]]:
    """(auditd's unicast socket, multicast readers) among NETLINK_AUDIT rows.

    The kernel's own socket (portid 0) is neither. auditd's socket has portid
    == its pid; a row without the READLOG group bit wins if there are several.
    A multicast reader is any other-than-kernel row with the READLOG bit, so
    an auditd socket that also joined the group is listed there too.
    """
    auditd = None
    if pid:
        candidates = [r for r in rows if r.portid == pid]
        candidates.sort(key=lambda r: r.groups & AUDIT_NLGRP_READLOG_BIT)
        auditd = candidates[0] if candidates else None
    readers = tuple(r for r in rows if r.portid != 0 and r.groups & AUDIT_NLGRP_READLOG_BIT)
    return auditd, readers


def audit_sockets(
    pid: int | None, path: str = "/proc/net/netlink"
) -> tuple[NetlinkSocketRow | None, tuple[NetlinkSocketRow, ...]]:
    """auditd's socket and the multicast readers, read from `path` now."""
    text = read_text(path)
    if text is None:
        return None, ()
    return pick_audit_sockets(parse_netlink(text), pid)


class DiagSocket(Protocol):
    """What sock_diag reports of a socket (probes/sockdiag.NetlinkSocketMem);
    a protocol, so this module does not import the pyroute2 side."""

    portid: int
    inode: int
    groups: int
    rmem_alloc: int
    rcvbuf: int
    drops: int | None


def rows_from_sock_diag(sockets: Iterable[DiagSocket],
                        proc: Iterable[NetlinkSocketRow] = ()) -> list[NetlinkSocketRow]:
    """NetlinkSocketRows with the real buffer. A kernel too old to report
    drops through sock_diag has them in /proc/net/netlink (`proc`, matched
    by inode; 0 if it has no row either)."""
    drops_by_inode = {row.inode: row.drops for row in proc}
    return [NetlinkSocketRow(portid=s.portid, groups=s.groups, rmem=s.rmem_alloc,
                             drops=s.drops if s.drops is not None
                             else drops_by_inode.get(s.inode, 0),
                             inode=s.inode, rcvbuf=s.rcvbuf)
            for s in sockets]

