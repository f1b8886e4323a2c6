"""cpucap: hold a server to a share of its core, so that the server is the side that is full.

Flat out on a small machine, loadgen's core fills before the server's: one loadgen thread costs
about what a one-worker server does per request. Chapter 10's lab then cannot tell a faster loop
from a slower one by requests/s. Held to a share of its core (here 30%), every server fills its
share long before loadgen fills its core, and requests/s measure the server: the share over its
CPU per request, at the batch sizes a full loop sees (everything that became ready while it
worked is there at its next wait).

The kernel's CPU bandwidth control does it, in a group of the lab's own (cgroup.py):

  cgroup v2   "QUOTA PERIOD" in the group's cpu.max
  cgroup v1   cpu.cfs_period_us and cpu.cfs_quota_us in the cpu hierarchy

A period of 10 ms: the server runs at most QUOTA of every 10 ms, and waits out the rest with
whatever arrived meanwhile queued. It needs root and the cpu controller; without them the lab says
so and leaves those rows out."""
import os

from . import cgroup

PERIOD_US = 10_000


def setup(percent):
    """Makes the lab's capped group; returns (True, what was set up) or (False, why not)."""
    if os.geteuid() != 0:
        return False, "no CPU cap (that needs root)"
    quota = PERIOD_US * percent // 100
    try:
        group = cgroup.make("cpucap", "cpu", {"cpu.max": f"{quota} {PERIOD_US}"},
                            ["cpu", "cpu,cpuacct"], {"cpu.cfs_period_us": PERIOD_US, "cpu.cfs_quota_us": quota})
    except OSError as e:
        return False, f"no CPU cap: {e}"
    if not group:
        return False, "no CPU cap: no cgroup cpu controller (v2) or cpu hierarchy (v1) here"
    return True, f"servers that join run at most {quota} us of every {PERIOD_US} us, {percent}% of a core (cgroup {group})"


def join(pids):
    cgroup.join("cpucap", pids)


def remove():
    cgroup.remove("cpucap")
