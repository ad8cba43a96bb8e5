"""The multicast listener's pure parts (probes/multicast.py) and the rules
listing (kernel/rules.py), without a kernel."""

from __future__ import annotations

import struct

import pytest

from auditop.kernel.rules import LoadedRules, Rule, parse_auditctl_list, rule_keys
from auditop.probes import multicast
from auditop.probes.multicast import socket_drops, split_records


def message(mtype: int, text: bytes) -> bytes:
    length = 16 + len(text)
    raw = struct.pack("=IHHII", length, mtype, 0, 0, 0) + text
    return raw + b"\0" * (((length + 3) & ~3) - length)


def test_split_records_reads_type_and_text():
    out: list = []
    split_records(message(1300, b"audit(1.0:1): arch=c000003e") + message(1320, b"x"), out)
    assert out == [(1300, b"audit(1.0:1): arch=c000003e"), (1320, b"x")]


@pytest.mark.parametrize("data", [b"", b"\x01\x02", struct.pack("=IHHII", 8, 1300, 0, 0, 0),
                                  struct.pack("=IHHII", 400, 1300, 0, 0, 0) + b"short"])
def test_split_records_stops_at_a_lie(data):
    out: list = []
    split_records(data, out)
    assert out == []


NETLINK = """sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
0000000000000000 9   0          00000000 0        0        0     2        0        1234
0000000000000000 9   3001       00000001 0        0        0     2        17       99887
"""


def test_socket_drops_by_inode(tmp_path):
    path = tmp_path / "netlink"
    path.write_text(NETLINK)
    assert socket_drops(99887, str(path)) == 17
    assert socket_drops(5, str(path)) is None
    assert socket_drops(5, str(tmp_path / "missing")) is None


def test_syscall_names_without_ausyscall(monkeypatch):
    monkeypatch.setattr(multicast.shutil, "which", lambda tool: None)
    names = multicast.SyscallNames()
    assert names.name("c000003e", "257") == "257"


AUDITCTL_L = """-a always,exit -F arch=b64 -S openat -F dir=/srv/backup -F key=backup_watch
-w /etc/passwd -p wa -k identity
-a always,exit -F arch=b64 -S execve -F key=exec -F key=audit
-a never,exit -F arch=b64 -S all -F exe=/usr/bin/noisy
"""


def test_parse_auditctl_list_and_map_keys():
    rules = parse_auditctl_list(AUDITCTL_L)
    assert [r.keys for r in rules] == [("backup_watch",), ("identity",), ("exec", "audit"), ()]
    by_key = LoadedRules("auditctl -l", rules).by_key()
    assert by_key["backup_watch"] == (
        "-a always,exit -F arch=b64 -S openat -F dir=/srv/backup -F key=backup_watch",)
    assert by_key["exec,audit"] == by_key["exec"] == by_key["audit"]
    assert parse_auditctl_list("No rules\n") == ()


def test_unknown_rules_stay_unknown():
    assert LoadedRules("unknown: auditctl not installed", None).by_key() is None
    assert rule_keys("-a always,exit -S all") == ()
    assert Rule("x", ()).keys == ()
