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


def pinning():
    """Where the lab puts the two sides of a run when the lab asks for it (lab_pin): loadgen alone
    on the last CPU this lab may use and the server on the others (LAB_PIN=1), or the server alone
    on the first and loadgen on all the others (LAB_PIN=one, `lab_pin one`). Left to itself the
    scheduler moves both from one run to the next, and on a small machine it sometimes puts them on
    one CPU: measured on 2 cores, nginx served 59-68k requests/s unpinned and 85-125k pinned, while
    05-epoll barely moved, so an unpinned comparison measured where each landed.
    `one` is for a lab of one-worker servers run flat out: one loadgen thread needs about as much
    CPU per request as the server it loads, so with a core each the faster server's run measures
    loadgen. With 3 CPUs or more, loadgen gets all the others, a thread for each, and the server's
    core is the limit; on 2 CPUs the two modes are the same.
    Returns (server CPUs, loadgen CPUs), or None when not asked or with a single CPU."""
    mode = os.environ.get("LAB_PIN")
    if mode not in ("1", "one"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return (cpus[:1], cpus[1:]) if mode == "one" else (cpus[:-1], cpus[-1:])


def describe_pinning():
    pin = pinning()
    if pin is None:
        return "not pinned" + (" (one CPU)" if os.environ.get("LAB_PIN") in ("1", "one") else "")
    servers, loadgen = pin
    threads = f" ({len(loadgen)} threads)" if len(loadgen) > 1 else ""
    return f"loadgen on CPU {','.join(map(str, loadgen))}{threads}, servers on CPU {','.join(map(str, servers))}"


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
