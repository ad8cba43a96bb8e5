"""The system probe with sock_diag (real buffers) and its fall-back to
/proc/net/netlink; the loss-cause follower a source polls."""

from __future__ import annotations

import os
import time

import pytest

from auditop.probes import read_system
from auditop.probes.kmsg import KernelLog, LossCauseFollower
from auditop.probes.sockdiag import (AuditSocketReader, NetlinkSocketMem, SockDiagError,
                                     SockDiagUnavailable, audit_sockets)
from tests.unit.test_probes import _fake_system

# The sockets of the fake /proc/net/netlink (tests/unit/test_probes.py):
# auditd 1234 (inode 7560) and two readers (7561, 7562), as sock_diag tells them.
DIAG = (
    NetlinkSocketMem(portid=0, inode=6, groups=0, rmem_alloc=0, rcvbuf=212992, drops=0),
    NetlinkSocketMem(portid=1234, inode=7560, groups=0, rmem_alloc=4096, rcvbuf=212992,
                     drops=7),
    NetlinkSocketMem(portid=2147483650, inode=7561, groups=1, rmem_alloc=0,
                     rcvbuf=134217728, drops=0),
)


def test_sock_diag_gives_auditd_its_real_buffer(tmp_path):
    root, conf = _fake_system(tmp_path)
    info = read_system(1234, proc_root=str(root), auditd_conf=str(conf), sock_diag=lambda: DIAG)
    sock = info.auditd_socket
    assert (sock.portid, sock.inode, sock.rmem, sock.drops, sock.rcvbuf) == (
        1234, 7560, 4096, 7, 212992)
    assert [(r.inode, r.rcvbuf) for r in info.multicast_readers] == [(7561, 134217728)]
    assert info.sock_diag_error is None


def test_without_sock_diag_the_proc_rows_have_no_buffer_and_say_why(tmp_path):
    root, conf = _fake_system(tmp_path)

    def unavailable():
        raise SockDiagUnavailable("this kernel has no netlink sock_diag (NETLINK_SOCK_DIAG "
                                  "unsupported)")
    info = read_system(1234, proc_root=str(root), auditd_conf=str(conf), sock_diag=unavailable)
    assert info.auditd_socket.inode == 7560 and info.auditd_socket.rcvbuf is None
    assert info.sock_diag_error.startswith("this kernel has no netlink sock_diag")
    plain = read_system(1234, proc_root=str(root), auditd_conf=str(conf))
    assert plain.auditd_socket.rcvbuf is None and plain.sock_diag_error is None


def test_an_old_kernel_without_drops_in_sock_diag_takes_them_from_proc(tmp_path):
    root, conf = _fake_system(tmp_path)
    old = tuple(NetlinkSocketMem(s.portid, s.inode, s.groups, s.rmem_alloc, s.rcvbuf, None)
                for s in DIAG)
    info = read_system(1234, proc_root=str(root), auditd_conf=str(conf), sock_diag=lambda: old)
    proc = read_system(1234, proc_root=str(root), auditd_conf=str(conf))
    assert info.auditd_socket.drops == proc.auditd_socket.drops
    assert info.auditd_socket.rcvbuf == 212992


def test_hz_and_the_kernel_log_error_reach_the_system_info(tmp_path):
    root, conf = _fake_system(tmp_path)
    info = read_system(1234, proc_root=str(root), auditd_conf=str(conf),
                       kernel_log_error="no kernel log device here")
    assert info.kernel_log_error == "no kernel log device here"
    assert info.hz is None  # the fake root has no config.gz


def test_the_reader_stops_asking_a_kernel_without_sock_diag():
    calls = []

    def dump():
        calls.append(1)
        raise SockDiagUnavailable("no sock_diag")
    reader = AuditSocketReader(dump)
    for _ in range(3):
        with pytest.raises(SockDiagUnavailable):
            reader()
    assert len(calls) == 1


def test_the_reader_tries_again_after_a_passing_failure():
    answers = [SockDiagError("sock_diag did not finish its dump in 1.0 s"), DIAG]

    def dump():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    reader = AuditSocketReader(dump)
    with pytest.raises(SockDiagError):
        reader()
    assert reader() == DIAG


@pytest.mark.skipif(os.geteuid() != 0, reason="sock_diag of audit sockets needs root")
def test_one_dump_costs_well_under_a_millisecond():
    """read_system runs at 2 Hz in the live source; one dump must stay cheap
    (measured here: about 50 us)."""
    try:
        audit_sockets()
    except SockDiagUnavailable as exc:
        pytest.skip(str(exc))
    start = time.perf_counter()
    for _ in range(200):
        audit_sockets()
    per_call = (time.perf_counter() - start) / 200
    assert per_call < 0.002, per_call


# --- the loss-cause follower -----------------------------------------------------

def test_each_poll_gives_what_arrived_since_the_last(pipe):
    read_end, write_end = pipe
    follower = LossCauseFollower(KernelLog("fake", opener=lambda path: read_end))
    assert follower.poll() == ((), 0, 0)
    os.write(write_end, b"4,1,10,-;audit: audit_backlog=65 > audit_backlog_limit=64\n"
                        b"3,2,11,-;audit: backlog limit exceeded\n"
                        b"4,3,12,-;audit: audit_lost=9 audit_rate_limit=0 audit_backlog_limit=64\n")
    assert follower.poll() == ((("backlog-limit", 2),), 0, 0)
    assert follower.poll() == ((), 0, 0)  # never re-read
    os.write(write_end, b"4,4,5000012,-;audit_log_lost: 528 callbacks suppressed\n"
                        b"3,5,5000013,-;audit: kauditd retry queue overflow\n")
    assert follower.poll() == ((("retry-queue", 1),), 528, 0)
    follower.close()


def test_an_unreadable_log_gives_nothing_and_says_why_once():
    def refuse(path):
        raise PermissionError(1, "Operation not permitted")
    follower = LossCauseFollower(KernelLog("/dev/kmsg", opener=refuse))
    assert follower.poll() == ((), 0, 0) and follower.poll() == ((), 0, 0)
    assert "CAP_SYSLOG" in follower.unavailable
