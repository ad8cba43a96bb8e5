"""Rules about auditd's netlink socket: overrun (drops) and a receive buffer
smaller than bursts need."""

from __future__ import annotations

from auditop.core.findings.base import Facts, Found, Thresholds, rule
from auditop.core.text import exact_bytes_text, rate_number


RESTART_AUDITD = "systemctl restart auditd"


ENOBUFS = (
    "When the socket is overrun, auditd 3.x logs \"Error receiving audit netlink packet "
    "(No buffer space available)\"; auditd 4.2 and later set NETLINK_NO_ENOBUFS and log "
    "nothing, but the drops are counted all the same (Drops in /proc/net/netlink).")


def sysctl_rmem(limits: Thresholds) -> str:
    return f"sysctl -w net.core.rmem_default={limits.rmem_default}"


@rule("netlink-drops")
def netlink_drops(f: Facts) -> Found | None:
    rate = f.window.netlink_drops_per_s if f.window else None
    if not rate or rate <= 0:
        return None
    rmem = f.system.rmem_default if f.system else None
    sock = f.system.auditd_socket if f.system else None
    have = sock.rcvbuf if sock else None
    small = have < f.limits.rmem_default if have is not None else (
        rmem is not None and rmem < f.limits.rmem_default)
    buffer = (f"auditd's socket has {exact_bytes_text(have)}" if have is not None
              else f"net.core.rmem_default is {exact_bytes_text(rmem)}")
    return Found(
        "warning", "auditd's socket is overrun",
        f"The kernel found auditd's netlink socket full {rate_number(rate)} times per second in "
        "the last "
        "window (Drops in /proc/net/netlink). kauditd puts each such record on its retry queue "
        "(up to backlog_limit of them; beyond that it is lost as \"kauditd retry queue "
        f"overflow\") and sends it again. {_after_retries(f)} auditd is reading slower than "
        "records arrive, and the backlog grows behind it. A larger socket buffer absorbs bursts: "
        f"{buffer}. {ENOBUFS}",
        _buffer_remedy(f, have) if small else None,
    )


def _after_retries(f: Facts) -> str:
    """What the kernel does with a record auditd still cannot take after the
    retries (kauditd_hold_skb): it depends on audit= at boot."""
    boot = f.system.boot.audit if f.system else None
    printed = f.window.records_printed if f.window else 0
    seen = (f" This window, {printed} record{'s were' if printed != 1 else ' was'} printed to "
            "the kernel log." if printed else "")
    if boot in ("1", "on"):
        return ("Booted with audit=1, this kernel then keeps it on its hold queue (up to "
                "backlog_limit; beyond that it is lost as \"kauditd hold queue overflow\")."
                + seen)
    return ("Booted without audit=1, this kernel then prints it to its log (`audit: type=...`, "
            "not counted in lost) and frees it: it leaves the audit trail; past printk's rate "
            "limit it is counted lost as \"printk limit exceeded\"." + seen)


@rule("rmem-default-small")
def rmem_default_small(f: Facts) -> Found | None:
    """Judges the buffer auditd's socket really has (sock_diag); only where
    that is unknown, the sysctl it got it from."""
    system = f.system
    if system is None:
        return None
    wanted, rmem = f.limits.rmem_default, system.rmem_default
    sock = system.auditd_socket
    have = sock.rcvbuf if sock else None
    if have is not None:
        if have >= wanted:
            return None
        pid = f.status.pid if f.status and f.status.pid else sock.portid
        if rmem is not None and rmem > have:
            now = (f"net.core.rmem_default is {exact_bytes_text(rmem)} now, but a socket's "
                   "buffer is fixed when the socket is made: the running auditd (pid "
                   f"{pid}) still has {exact_bytes_text(have)}. A restart of auditd is needed "
                   "for the new default to reach it.")
        else:
            now = (f"auditd's netlink socket (pid {pid}) has a receive buffer of "
                   f"{exact_bytes_text(have)} (read with sock_diag, `rb` in "
                   "`ss -f netlink -m`): "
                   "auditd asks for no size, so it got net.core.rmem_default when it started.")
    else:
        if rmem is None or rmem >= wanted:
            return None
        unknown = (f" (auditd's real buffer is unknown: {system.sock_diag_error})"
                   if system.sock_diag_error else "")
        running = sock is not None
        now = (f"auditd asks for no buffer size, so its netlink socket gets "
               f"net.core.rmem_default = {exact_bytes_text(rmem)}"
               + (", if it started after that was set" if running else
                  " when it starts") + f"{unknown}.")
    capped = (
        f" net.core.rmem_max is {exact_bytes_text(system.rmem_max)}: it caps programs that "
        "ask for a buffer with SO_RCVBUF, but rmem_default is used as is, so raising "
        "rmem_default is enough for auditd; raise rmem_max too for readers that ask."
        if system.rmem_max is not None and system.rmem_max < wanted else "")
    return Found(
        "warning", "auditd's socket buffer is small",
        f"{now} A burst bigger than that overruns the socket, and the kernel requeues records "
        f"while the backlog grows. {ENOBUFS} {exact_bytes_text(wanted)} absorbs bursts. Keep "
        f"it after a reboot: echo 'net.core.rmem_default = {wanted}' > "
        f"/etc/sysctl.d/60-auditd.conf.{capped}",
        _buffer_remedy(f, have),
    )


def _buffer_remedy(f: Facts, have: int | None) -> str:
    """Raise the default where it is small; restart auditd where its socket
    is smaller than the default it would get now."""
    system, wanted = f.system, f.limits.rmem_default
    rmem = system.rmem_default if system else None
    steps = []
    if rmem is None or rmem < wanted:
        steps.append(sysctl_rmem(f.limits))
    if have is not None and have < max(rmem or 0, wanted):
        steps.append(RESTART_AUDITD)
    return " && ".join(steps) or sysctl_rmem(f.limits)
