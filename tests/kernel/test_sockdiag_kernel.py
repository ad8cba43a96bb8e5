"""sock_diag against the real kernel, checked against `ss` and
/proc/net/netlink. Read-only for audit: the tests make their own sockets
(an unbound-to-groups NETLINK_AUDIT socket changes no audit state) and
never send an audit request."""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess

import pytest

from auditop.probes.sockdiag import (
    NETLINK_AUDIT,
    SockDiagUnavailable,
    audit_sockets,
    netlink_sockets,
)

NETLINK_ROUTE = 0
NETLINK_KOBJECT_UEVENT = 15
RTM_GETLINK = 18

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to open NETLINK_AUDIT sockets")


@pytest.fixture(scope="module", autouse=True)
def sock_diag_available():
    try:
        audit_sockets()
    except SockDiagUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def ss():
    if shutil.which("ss") is None:
        pytest.skip("ss not installed (apt-get install -y iproute2)")


def own_socket(protocol: int, rcvbuf: int | None = None, groups: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((0, groups))
    return sock


def inode(sock: socket.socket) -> int:
    return os.fstat(sock.fileno()).st_ino


def ss_skmem(protocol_name: str, portid: int) -> dict[str, int]:
    """`skmem:(r..,rb..,...,d..)` of the ss row `<proto>:<comm>/<portid>`
    (or `<proto>:<portid>`); ss prints the portid signed."""
    out = subprocess.run(["ss", "-f", "netlink", "-m", "-p"], check=True,
                         capture_output=True, text=True).stdout
    signed = portid - 2**32 if portid >= 2**31 else portid
    pattern = re.compile(rf"\b{protocol_name}:(?:\S*/)?(?:{portid}|{signed})\s")
    rows = out.splitlines()
    for i, line in enumerate(rows):
        if pattern.search(line):
            tail = " ".join(rows[i:i + 2])  # skmem may wrap onto the next line
            skmem = re.search(r"skmem:\(([^)]*)\)", tail)
            assert skmem, f"no skmem for {protocol_name}:{portid} in: {tail}"
            return {m.group(1): int(m.group(2))
                    for m in re.finditer(r"([a-z]+)(\d+)", skmem.group(1))}
    raise AssertionError(f"ss lists no {protocol_name} socket with portid {portid}:\n{out}")


def proc_netlink_row(ino: int) -> dict[str, int]:
    with open("/proc/net/netlink") as f:
        header, *rows = f.read().splitlines()
    names = [name.lower() for name in header.split()]
    for row in rows:
        values = dict(zip(names, row.split()))
        if int(values["inode"]) == ino:
            return {name: int(value, 16 if name in ("sk", "groups") else 10)
                    for name, value in values.items()}
    raise AssertionError(f"/proc/net/netlink has no socket with inode {ino}")


def find(sockets, ino):
    matches = [s for s in sockets if s.inode == ino]
    assert len(matches) == 1, f"inode {ino} reported {len(matches)} times: {sockets}"
    return matches[0]


def test_own_audit_socket_matches_ss_and_proc(ss):
    with own_socket(NETLINK_AUDIT, rcvbuf=50000) as sock:
        portid = sock.getsockname()[0]
        mine = find(audit_sockets(), inode(sock))
        skmem = ss_skmem("audit", portid)
        row = proc_netlink_row(inode(sock))
        rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    assert mine.portid == portid == row["pid"]
    assert mine.rcvbuf == skmem["rb"] == rcvbuf
    assert mine.rcvbuf == 100000  # SO_RCVBUF stores twice the request
    assert mine.drops == row["drops"] == skmem["d"]
    assert mine.rmem_alloc == row["rmem"] == skmem["r"] == 0
    assert mine.groups == row["groups"] == 0 and mine.protocol == NETLINK_AUDIT


def test_default_buffer_is_rmem_default():
    with open("/proc/sys/net/core/rmem_default") as f:
        rmem_default = int(f.read())
    with own_socket(NETLINK_AUDIT) as sock:
        assert find(audit_sockets(), inode(sock)).rcvbuf == rmem_default


def test_kernel_audit_socket_is_listed():
    kernel = [s for s in audit_sockets() if s.is_kernel]
    assert len(kernel) == 1  # one per network namespace; we are in the initial one
    assert kernel[0].inode == proc_netlink_row(kernel[0].inode)["inode"]


def test_nonzero_queue_and_drops_match_proc_and_ss(ss):
    """A NETLINK_ROUTE socket with the smallest buffer, sent link requests it
    never reads: the kernel drops the replies that do not fit. (Done on
    rtnetlink, not audit, so no audit request is ever sent.)"""
    with own_socket(NETLINK_ROUTE, rcvbuf=1) as sock:
        ifinfomsg = struct.pack("=BBHiII", 0, 0, 0, 1, 0, 0)  # ifindex 1 = lo
        for seq in range(1, 21):
            sock.send(struct.pack("=IHHII", 16 + len(ifinfomsg), RTM_GETLINK, 1, seq, 0)
                      + ifinfomsg)
        mine = find(netlink_sockets(NETLINK_ROUTE), inode(sock))
        row = proc_netlink_row(inode(sock))
        skmem = ss_skmem("rtnl", sock.getsockname()[0])
    assert mine.drops > 0 and mine.rmem_alloc > 0
    assert mine.drops == row["drops"] == skmem["d"]
    assert mine.rmem_alloc == row["rmem"] == skmem["r"]
    assert mine.rcvbuf == skmem["rb"]


def test_groups_of_a_multicast_listener_are_reported_once():
    """A uevent listener on group 1 (harmless, and no audit multicast bind,
    which would log an AUDIT_EVENT_LISTENER record)."""
    with own_socket(NETLINK_KOBJECT_UEVENT, groups=1) as sock:
        mine = find(netlink_sockets(NETLINK_KOBJECT_UEVENT), inode(sock))
        row = proc_netlink_row(inode(sock))
    assert mine.groups == row["groups"] == 1
