"""The /proc and auditd-file probes, fed fixture text or a fake proc root."""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditop.core.model import AuditdProcess, BootParams, NetlinkSocketRow
from auditop.probes import read_system
from auditop.probes.auditd_conf import clear_cache, parse_conf, read_auditd_config
from auditop.probes.boot import (hz_from_readings, kernel_hz, kernel_hz_reading, measure_hz,
                                 parse_cmdline, parse_kernel_uint, parse_timer_list,
                                 read_boot_params)
from auditop.probes.meminfo import mem_total
from auditop.probes.netlink import audit_sockets, parse_netlink, pick_audit_sockets
from auditop.probes.process import auditd_process, parse_stat
from auditop.probes.sysctl import read_rmem

# ---------------------------------------------------------------- netlink

# Copied from this machine's /proc/net/netlink (trailing spaces included),
# plus auditd (pid 1234), journald's READLOG socket with a negative
# autobound portid, and an auditd socket that also joined group 1.
NETLINK = """\
sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
00000000641e633c 0   0          00000000 0        0        0     2        0        4       
000000002647dc19 9   0          00000000 0        0        0     2        0        6       
00000000e56bc3c5 9   1234       00000000 4352     0        0     2        17       7560    
00000000aa000001 9   4294966000 00000001 212992   0        0     2        3        7561    
00000000aa000002 9   1234       00000001 0        0        0     2        0        7562    
000000001aa2de93 10  0          00000000 0        0        0     2        0        15      
"""

# An older layout: wider columns, different spacing.
NETLINK_OLD = """\
sk       Eth Pid    Groups   Rmem     Wmem     Dump     Locks     Drops     Inode
ffff8800 9   0      00000000 0        0        (null)   2        0        6
ffff8801 9   900    00000000 128      0        (null)   2        5        77
"""

# Very old kernels print neither Drops nor Inode.
NETLINK_NO_DROPS = """\
sk       Eth Pid    Groups   Rmem     Wmem     Dump     Locks
ffff8801 9   900    00000010 128      0        00000000 2
"""


def test_parse_netlink_keeps_only_audit_rows():
    rows = parse_netlink(NETLINK)
    assert [r.portid for r in rows] == [0, 1234, 4294966000, 1234]
    assert rows[1] == NetlinkSocketRow(portid=1234, groups=0, rmem=4352, drops=17, inode=7560)


def test_parse_netlink_big_unsigned_portid_and_hex_groups():
    reader = parse_netlink(NETLINK)[2]
    assert reader.portid == 4294966000  # a negative autobind id, printed unsigned
    assert reader.groups == 1
    assert reader.rmem == 212992


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NETLINK_OLD, [NetlinkSocketRow(0, 0, 0, 0, 6), NetlinkSocketRow(900, 0, 128, 5, 77)]),
        (NETLINK_NO_DROPS, [NetlinkSocketRow(900, 0x10, 128, 0, 0)]),
    ],
)
def test_parse_netlink_by_header_names(text, expected):
    assert parse_netlink(text) == expected


def test_parse_netlink_groups_is_hex():
    text = NETLINK.splitlines()[0] + "\nffff 9 55 0000001f 0 0 0 2 0 9\n"
    assert parse_netlink(text)[0].groups == 0x1F


def test_parse_netlink_without_header_uses_modern_layout():
    body = "".join(NETLINK.splitlines(keepends=True)[1:])
    assert parse_netlink(body) == parse_netlink(NETLINK)


@pytest.mark.parametrize(
    "bad_line",
    [
        "garbage",
        "ffff 9 12",  # too few columns
        "ffff 9 notanumber 00000000 0 0 0 2 0 7",
        "ffff 9 12 zzzzzzzz 0 0 0 2 0 7",  # groups not hex
        "ffff nine 12 00000000 0 0 0 2 0 7",
        "",
    ],
)
def test_parse_netlink_skips_malformed_lines(bad_line):
    lines = NETLINK.splitlines()
    text = "\n".join([lines[0], bad_line, *lines[1:]])
    assert parse_netlink(text) == parse_netlink(NETLINK)


@pytest.mark.parametrize("text", ["", "\n", "sk Foo Bar\n1 2 3\n", "sk\n"])
def test_parse_netlink_empty_or_unknown_layout(text):
    assert parse_netlink(text) == []


@given(st.text())
def test_parse_netlink_never_raises(text):
    assert all(isinstance(row, NetlinkSocketRow) for row in parse_netlink(text))


@given(st.lists(st.text(alphabet="0123456789abcdefx-+ \t", max_size=12), max_size=12))
def test_parse_netlink_never_raises_on_numberish_rows(cells):
    rows = parse_netlink(NETLINK.splitlines()[0] + "\n" + " ".join(cells))
    assert len(rows) <= 1 and all(isinstance(row, NetlinkSocketRow) for row in rows)


def test_audit_sockets_picks_auditd_by_pid_and_lists_readers(tmp_path):
    path = tmp_path / "netlink"
    path.write_text(NETLINK)
    auditd, readers = audit_sockets(1234, str(path))
    # Of auditd's two sockets the one outside the READLOG group wins.
    assert auditd is not None and auditd.inode == 7560
    assert [r.inode for r in readers] == [7561, 7562]


@pytest.mark.parametrize("pid", [None, 0, 999])
def test_audit_sockets_without_auditd(pid):
    auditd, readers = pick_audit_sockets(parse_netlink(NETLINK), pid)
    assert auditd is None
    assert all(r.portid != 0 for r in readers)


def test_kernel_socket_is_never_a_reader_even_with_group_bit():
    rows = [NetlinkSocketRow(portid=0, groups=1, rmem=0, drops=0, inode=1)]
    assert pick_audit_sockets(rows, 0) == (None, ())


def test_audit_sockets_missing_file(tmp_path):
    assert audit_sockets(1, str(tmp_path / "absent")) == (None, ())


def test_audit_sockets_finds_a_real_unbound_socket():
    """An autobound NETLINK_AUDIT socket (no group, so no audit record) shows
    up in the real /proc/net/netlink with portid = our pid."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)
    except OSError as error:
        pytest.skip(f"no NETLINK_AUDIT socket here: {error}")
    with sock:
        sock.bind((0, 0))
        portid = sock.getsockname()[0]
        mine, _ = audit_sockets(portid)
        if not os.path.exists("/proc/net/netlink"):
            pytest.skip("no /proc/net/netlink")
        assert mine is not None and mine.portid == portid and mine.groups == 0


# ---------------------------------------------------------------- process

HZ = os.sysconf("SC_CLK_TCK")


def _stat_line(pid: int, comm: str, state: str, start_ticks: int) -> str:
    # Fields 4..21 are filler; field 22 is the start time in clock ticks.
    filler = " ".join(["0"] * 18)
    return f"{pid} ({comm}) {state} {filler} {start_ticks} 123 456\n"


@pytest.mark.parametrize(
    ("comm", "state"),
    [("auditd", "S"), ("a) b (c", "T"), ("x)) ) R (", "t"), ("", "Z")],
)
def test_parse_stat_splits_at_last_paren(comm, state):
    proc = parse_stat(42, _stat_line(42, comm, state, 5 * HZ), btime=1000.0)
    assert proc == AuditdProcess(pid=42, name=comm, state=state, start_time=1005.0)
    assert proc.stopped == (state in "Tt")


@pytest.mark.parametrize("text", ["", "42 auditd S", "42 (auditd)", "42 )auditd( S"])
def test_parse_stat_malformed(text):
    assert parse_stat(42, text, btime=0.0) is None


def test_parse_stat_short_line_has_no_start_time():
    assert parse_stat(42, "42 (auditd) S 1 2", btime=0.0).start_time is None


def test_parse_stat_without_btime():
    assert parse_stat(42, _stat_line(42, "auditd", "S", 10), btime=None).start_time is None


def _fake_proc(
    root: Path, processes: dict[int, tuple[str, str]], btime: int = 1_700_000_000
) -> Path:
    """A /proc with /proc/stat, and <pid>/stat + comm for each (comm, state)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "stat").write_text(f"cpu  1 2 3 4\nintr 5\nbtime {btime}\nprocesses 9\n")
    for pid, (comm, state) in processes.items():
        (root / str(pid)).mkdir()
        (root / str(pid) / "stat").write_text(_stat_line(pid, comm, state, 100 * HZ))
        (root / str(pid) / "comm").write_text(comm + "\n")
    return root


def test_auditd_process_reads_fake_proc(tmp_path):
    root = _fake_proc(tmp_path / "proc", {777: ("auditd", "T")})
    proc = auditd_process(777, str(root))
    assert proc == AuditdProcess(pid=777, name="auditd", state="T", start_time=1_700_000_100.0)
    assert proc.stopped


@pytest.mark.parametrize("pid", [None, 0, -1, 778])
def test_auditd_process_absent(tmp_path, pid):
    root = _fake_proc(tmp_path / "proc", {777: ("auditd", "S")})
    assert auditd_process(pid, str(root)) is None


def test_auditd_process_of_ourselves_on_real_proc():
    proc = auditd_process(os.getpid())
    assert proc is not None and proc.state == "R"
    assert proc.start_time is not None and proc.start_time > 0


# ---------------------------------------------------------------- auditd.conf

AUDITD_CONF = """\
#
# This file controls the configuration of the audit daemon
#
   # an indented comment
log_format = ENRICHED
flush=INCREMENTAL_ASYNC
freq   =   50
priority_boost = 4
q_depth = 2o00
overflow_action = SYSLOG
disp_qos = Lossless
name_format = NONE
no_equals_here
"""

PLUGIN_ON = "active = yes\ndirection = out\npath = /sbin/audisp-syslog\ntype = always\n"
PLUGIN_OFF = "active = no\npath = /sbin/audisp-remote\n"
PLUGIN_ON_NO_PATH = "# no path key\nACTIVE = YES\n"


@pytest.fixture(autouse=True)
def _fresh_conf_cache():
    clear_cache()
    yield
    clear_cache()


def _write_conf(tmp_path: Path, text: str, plugins: dict[str, str]) -> tuple[Path, Path]:
    plugin_dir = tmp_path / "plugins.d"
    plugin_dir.mkdir()
    for name, body in plugins.items():
        (plugin_dir / name).write_text(body)
    conf = tmp_path / "auditd.conf"
    conf.write_text(text + f"plugin_dir = {plugin_dir}\n")
    return conf, plugin_dir


def test_read_auditd_config(tmp_path):
    plugins = {
        "syslog.conf": PLUGIN_ON,
        "au-remote.conf": PLUGIN_OFF,
        "laurel.conf": PLUGIN_ON_NO_PATH,
        "README": PLUGIN_ON,  # not *.conf: ignored
    }
    conf, _ = _write_conf(tmp_path, AUDITD_CONF, plugins)
    config = read_auditd_config(str(conf))
    assert config is not None
    assert config.path == str(conf)
    assert config.log_format == "enriched"
    assert config.flush == "incremental_async"
    assert config.freq == 50
    assert config.priority_boost == 4
    assert config.q_depth is None  # "2o00" is not a number
    assert config.overflow_action == "syslog"
    assert config.disp_qos == "lossless"
    assert config.active_plugins == ("laurel", "audisp-syslog")


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("freq = -5", "freq", None),
        ("freq = 5.0", "freq", None),
        ("freq = ", "freq", None),
        ("q_depth = 99999", "q_depth", 99999),
        ("q_depth = ８", "q_depth", None),  # a full-width digit
        ("FLUSH = DATA", "flush", "data"),
        ("\tflush\t=\tSync\t", "flush", "sync"),
        ("# flush = data", "flush", None),
    ],
)
def test_auditd_config_values(tmp_path, line, key, expected):
    conf, _ = _write_conf(tmp_path, line + "\n", {})
    assert getattr(read_auditd_config(str(conf)), key) == expected


def test_parse_conf_last_value_wins():
    assert parse_conf("freq = 1\nfreq = 2\n") == {"freq": "2"}


def test_plugin_dir_argument_overrides_key(tmp_path):
    conf, _ = _write_conf(tmp_path, "", {"a.conf": PLUGIN_ON})
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.conf").write_text(PLUGIN_ON_NO_PATH)
    assert read_auditd_config(str(conf), plugin_dir=str(other)).active_plugins == ("b",)
    assert read_auditd_config(str(conf)).active_plugins == ("audisp-syslog",)


def test_missing_plugin_dir_means_no_plugins(tmp_path):
    conf = tmp_path / "auditd.conf"
    conf.write_text(f"plugin_dir = {tmp_path / 'absent'}\n")
    assert read_auditd_config(str(conf)).active_plugins == ()


def test_missing_auditd_conf(tmp_path):
    assert read_auditd_config(str(tmp_path / "absent.conf")) is None


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_config_is_cached_until_a_file_changes(tmp_path):
    conf, plugin_dir = _write_conf(tmp_path, "freq = 1\n", {"p.conf": PLUGIN_OFF})
    first = read_auditd_config(str(conf))
    assert read_auditd_config(str(conf)) is first  # nothing changed: no re-parse

    conf.write_text(conf.read_text().replace("freq = 1", "freq = 2"))  # same size
    _bump_mtime(conf)
    assert read_auditd_config(str(conf)).freq == 2

    (plugin_dir / "p.conf").write_text(PLUGIN_ON)  # edited in place
    _bump_mtime(plugin_dir / "p.conf")
    assert read_auditd_config(str(conf)).active_plugins == ("audisp-syslog",)

    (plugin_dir / "q.conf").write_text(PLUGIN_ON_NO_PATH)  # a new plugin
    _bump_mtime(plugin_dir)
    assert read_auditd_config(str(conf)).active_plugins == ("audisp-syslog", "q")

    conf.unlink()
    assert read_auditd_config(str(conf)) is None


def test_real_auditd_conf_if_present():
    config = read_auditd_config()
    if config is None:
        pytest.skip("no readable /etc/audit/auditd.conf")
    assert config.path == "/etc/audit/auditd.conf"


# ---------------------------------------------------------------- boot


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ("BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet\n", BootParams()),
        ("root=/dev/sda1 audit=1 audit_backlog_limit=8192\n", BootParams("1", 8192)),
        ("audit=0", BootParams("0", None)),
        ("audit=off audit=on", BootParams("on", None)),  # last wins, as in the kernel
        ("audit_backlog_limit=lots", BootParams(None, None)),
        ("audit_backlog_limit=0x2000", BootParams(None, 8192)),
        ('audit="1" x="a audit=0 b"', BootParams("1", None)),  # quoted spaces
        ("quiet -- audit=1 audit_backlog_limit=5", BootParams()),  # after --: init's
        ("noaudit=1 myaudit_backlog_limit=3 audit", BootParams()),
        ("", BootParams()),
    ],
)
def test_parse_cmdline(cmdline, expected):
    assert parse_cmdline(cmdline) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8192", 8192),
        ("+8192", 8192),
        ("0", 0),
        ("0x10", 16),
        ("010", 8),  # base 0: a leading 0 is octal
        ("09", None),
        ("0x", None),
        ("", None),
        ("-1", None),
        ("4294967295", 2**32 - 1),
        ("4294967296", None),
        ("1_000", None),
        ("8k", None),
    ],
)
def test_parse_kernel_uint(text, expected):
    assert parse_kernel_uint(text) == expected


def test_read_boot_params(tmp_path):
    path = tmp_path / "cmdline"
    path.write_text("quiet audit=1 audit_backlog_limit=8192\n")
    assert read_boot_params(str(path)) == BootParams("1", 8192)
    path.write_text("quiet\n")
    assert read_boot_params(str(path)) == BootParams("1", 8192)  # read once
    assert read_boot_params(str(tmp_path / "absent")) == BootParams()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (b"CONFIG_AUDIT=y\n# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n", 250),
        (b"CONFIG_AUDIT=y\n", None),
        (None, None),  # no /proc/config.gz
    ],
)
def test_kernel_hz(tmp_path, config, expected):
    if config is not None:
        with gzip.open(tmp_path / "config.gz", "wb") as f:
            f.write(config)
    assert kernel_hz(str(tmp_path), str(tmp_path / "boot")) == expected


def test_kernel_hz_not_gzip(tmp_path):
    (tmp_path / "config.gz").write_bytes(b"CONFIG_HZ=250\n")
    assert kernel_hz(str(tmp_path), str(tmp_path / "boot")) is None


def _proc_with_release(tmp_path, release="6.1.0-28-amd64"):
    proc = tmp_path / "proc"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "osrelease").write_text(release + "\n")
    return proc


def test_kernel_hz_from_boot_config_when_proc_has_none(tmp_path):
    """Stock Debian, RHEL and Ubuntu kernels: no /proc/config.gz, a plain
    /boot/config-$(uname -r)."""
    proc = _proc_with_release(tmp_path)
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "config-6.1.0-28-amd64").write_text("CONFIG_HZ_1000=y\nCONFIG_HZ=1000\n")
    (boot / "config-5.10.0-9-amd64").write_text("CONFIG_HZ=100\n")  # another kernel's
    assert kernel_hz_reading(str(proc), str(boot)) == (1000, str(boot / "config-6.1.0-28-amd64"))


def test_proc_config_wins_over_boot(tmp_path):
    proc = _proc_with_release(tmp_path)
    with gzip.open(proc / "config.gz", "wb") as f:
        f.write(b"CONFIG_HZ=250\n")
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "config-6.1.0-28-amd64").write_text("CONFIG_HZ=1000\n")
    assert kernel_hz_reading(str(proc), str(boot)) == (250, str(proc / "config.gz"))


TIMER_LIST = """Timer List Version: v0.10
HRTIMER_MAX_CLOCK_BASES: 8
now at {now} nsecs

cpu: 0
  .idle_jiffies   : 4294924593
jiffies: {jiffies}
"""


def test_parse_timer_list():
    assert parse_timer_list(TIMER_LIST.format(now=129444727168, jiffies=4294924597)) == (
        129444727168, 4294924597)
    assert parse_timer_list("now at 5 nsecs\n") is None


@pytest.mark.parametrize(
    ("nanos", "ticks", "expected"),
    [
        (1_000_000_000, 251, 250),  # measured here: 251 in one second
        (100_000_000, 25, 250),
        (100_000_000, 26, 250),
        (100_000_000, 100, 1000),
        (100_000_000, 10, 100),
        (100_000_000, 30, 300),
        (100_000_000, 0, None),  # jiffies did not move: no HZ
        (100_000_000, 60, None),  # 600: no kernel is built so
        (0, 25, None),
    ],
)
def test_hz_from_readings(nanos, ticks, expected):
    start = (10**12, 4294924597)
    assert hz_from_readings(start, (start[0] + nanos, start[1] + ticks)) == expected


def test_hz_from_readings_across_the_jiffies_wrap():
    # jiffies starts 5 minutes before its 32-bit wrap on a 32-bit kernel
    assert hz_from_readings((0, 2**32 - 10), (100_000_000, 15)) == 250


def test_measured_hz_when_no_config_anywhere(tmp_path, monkeypatch):
    proc = _proc_with_release(tmp_path)
    readings = iter([TIMER_LIST.format(now=10**12, jiffies=1000),
                     TIMER_LIST.format(now=10**12 + 100_000_000, jiffies=1100)])
    (proc / "timer_list").write_text(next(readings))
    monkeypatch.setattr("auditop.probes.boot.time.sleep",
                        lambda s: (proc / "timer_list").write_text(next(readings)))
    assert kernel_hz_reading(str(proc), str(tmp_path / "boot")) == (
        1000, f"measured from {proc / 'timer_list'}")


def test_no_hz_anywhere(tmp_path):
    proc = _proc_with_release(tmp_path)
    assert kernel_hz_reading(str(proc), str(tmp_path / "boot")) == (None, None)
    assert measure_hz(str(proc / "timer_list")) is None


# ---------------------------------------------------------------- sysctl, meminfo


def test_read_rmem(tmp_path):
    core = tmp_path / "sys" / "net" / "core"
    core.mkdir(parents=True)
    (core / "rmem_default").write_text("212992\n")
    (core / "rmem_max").write_text("not a number\n")
    assert read_rmem(str(tmp_path)) == (212992, None)
    assert read_rmem(str(tmp_path / "absent")) == (None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MemTotal:       24684092 kB\nMemFree:        24550028 kB\n", 24684092 * 1024),
        ("MemFree:        1 kB\nMemTotal: 2 kB\n", 2048),
        ("MemFree:        1 kB\n", None),
        ("MemTotal: lots kB\n", None),
        ("MemTotal:\n", None),
    ],
)
def test_mem_total(tmp_path, text, expected):
    path = tmp_path / "meminfo"
    path.write_text(text)
    assert mem_total(str(path)) == expected


def test_mem_total_missing(tmp_path):
    assert mem_total(str(tmp_path / "absent")) is None


# ---------------------------------------------------------------- read_system


def _fake_system(tmp_path: Path) -> tuple[Path, Path]:
    root = _fake_proc(tmp_path / "proc", {1234: ("auditd", "S"), 4321: ("journald", "S")})
    core = root / "sys" / "net" / "core"
    core.mkdir(parents=True)
    (core / "rmem_default").write_text("212992\n")
    (core / "rmem_max").write_text("4194304\n")
    (root / "net").mkdir()
    (root / "net" / "netlink").write_text(NETLINK)
    (root / "cmdline").write_text("ro quiet audit=1 audit_backlog_limit=8192\n")
    (root / "meminfo").write_text("MemTotal: 1024 kB\n")
    conf, _ = _write_conf(tmp_path, AUDITD_CONF, {"syslog.conf": PLUGIN_ON})
    return root, conf


def test_read_system_on_fake_proc(tmp_path):
    root, conf = _fake_system(tmp_path)
    info = read_system(1234, proc_root=str(root), auditd_conf=str(conf))
    assert (info.rmem_default, info.rmem_max) == (212992, 4194304)
    assert info.auditd is not None and info.auditd.name == "auditd" and info.auditd.state == "S"
    assert info.auditd_socket is not None and info.auditd_socket.inode == 7560
    assert [r.inode for r in info.multicast_readers] == [7561, 7562]
    assert info.config is not None and info.config.active_plugins == ("audisp-syslog",)
    assert info.boot == BootParams("1", 8192)
    assert info.mem_total == 1024 * 1024


def test_read_system_without_auditd(tmp_path):
    root, conf = _fake_system(tmp_path)
    info = read_system(None, proc_root=str(root), auditd_conf=str(conf))
    assert info.auditd is None and info.auditd_socket is None
    assert len(info.multicast_readers) == 2


def test_read_system_on_empty_root(tmp_path):
    info = read_system(1, proc_root=str(tmp_path), auditd_conf=str(tmp_path / "auditd.conf"))
    assert info.auditd is None and info.config is None and info.mem_total is None
    assert info.boot == BootParams() and info.multicast_readers == ()
