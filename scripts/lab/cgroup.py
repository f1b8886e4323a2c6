"""cgroup: a control group of the lab's own, for its servers, where the machine lets us.

Two labs use one: chapter 08's slows the disk for its servers (slowdisk.py), chapter 10's holds a
server to a share of its core (cpucap.py). Either needs root and the kernel's controller for it,
in one of two layouts:

  cgroup v2   one hierarchy at /sys/fs/cgroup; the controller is enabled for its children
              (+NAME in cgroup.subtree_control) and set in the group's own files
  cgroup v1   a hierarchy per controller, /sys/fs/cgroup/NAME, with files of its own

A group is made once per lab under a name of its own, its servers join it (with every thread and
every process under them), and it is removed when the lab ends (stop_all), empty by then."""
import os

from .servers import state_dir

ROOT = "/sys/fs/cgroup"


def _record(kind):
    return os.path.join(state_dir(), f"{kind}-group")


def make(kind, controller, v2_settings, v1_hierarchies, v1_settings):
    """Makes the lab's group `kind` and writes its settings (file name -> value, in order): in
    cgroup v2 when it has `controller`, else in the first v1 hierarchy of `v1_hierarchies` (names
    under /sys/fs/cgroup) that has the first v1 file. Returns the group's path, or None when the
    machine has neither; raises OSError when the kernel refuses."""
    record = _record(kind)  # first: a lab without its state folder makes no group to leave behind
    name = f"one-loop-lab-{kind}-{os.getpid()}"
    v2 = os.path.join(ROOT, "cgroup.controllers")
    if os.path.exists(v2) and controller in open(v2).read().split():
        with open(os.path.join(ROOT, "cgroup.subtree_control"), "w") as f:
            f.write("+" + controller)
        group, settings = os.path.join(ROOT, name), v2_settings
    else:
        first = next(iter(v1_settings))
        found = [h for h in v1_hierarchies if os.path.exists(os.path.join(ROOT, h, first))]
        if not found:
            return None
        group, settings = os.path.join(ROOT, found[0], name), v1_settings
    os.makedirs(group, exist_ok=True)
    for file, value in settings.items():
        with open(os.path.join(group, file), "w") as f:
            f.write(str(value))
    with open(record, "w") as f:
        f.write(group)
    return group


def join(kind, pids):
    """Puts these processes (all their threads) in the lab's group `kind`, if there is one."""
    if not os.path.exists(_record(kind)):
        return
    group = open(_record(kind)).read().strip()
    for pid in pids:
        try:
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError:
            pass  # gone since the look


def remove(kind):
    """Removes the group; called once the lab's servers are stopped, so it is empty."""
    if not os.path.exists(_record(kind)):
        return
    group = open(_record(kind)).read().strip()
    try:
        os.rmdir(group)
    except OSError:
        pass
    os.remove(_record(kind))
