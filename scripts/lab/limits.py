"""limits: the machine's limits that decide what a lab can do, raised where allowed and always reported."""
import os
import resource


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def port_range():
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(low), int(high)
    except OSError:
        return 32768, 60999


def congestion_control():
    """The TCP congestion control new sockets get. It matters on loopback too: bbr paces its
    sends with a timer per packet burst, and chapter 07's lab measured that cost (its README)."""
    try:
        return open("/proc/sys/net/ipv4/tcp_congestion_control").read().strip()
    except OSError:
        return "unknown"


def describe():
    fd = raise_fd_limit()
    low, high = port_range()
    return {
        "cores": os.cpu_count(),
        "fd_limit": fd,
        "ephemeral_ports": high - low + 1,
        "kernel": os.uname().release,
        "somaxconn": int(open("/proc/sys/net/core/somaxconn").read()),
        "tcp_congestion_control": congestion_control(),
    }
