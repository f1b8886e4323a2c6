"""slowdisk: make the disk slow for the servers of one lab, where the machine lets us.

A cold file costs a loop only as long as the disk takes, and some machines' disks are fast: a
virtual disk served from the host's memory reads 8 MiB in a few milliseconds, and then chapter 07's
loop hardly notices a cold file at all. To show what a disk of ordinary speed does, the lab can
limit how fast the servers (and only they) read from it, with the kernel's block I/O throttle:

  cgroup v2   a group with the io controller; "MAJ:MIN rbps=BYTES" in its io.max
  cgroup v1   a group of the blkio hierarchy; "MAJ:MIN BYTES" in blkio.throttle.read_bps_device

It needs root and one of the two. Without them the lab runs on the disk as it is and says so.
The group is made once per lab and removed when the lab ends (stop_all)."""
import os

from .servers import state_dir

V2 = "/sys/fs/cgroup"
V1 = "/sys/fs/cgroup/blkio"


def _disk_of(path):
    """'MAJ:MIN' of the whole disk holding `path` (the throttle applies to disks, not partitions)."""
    dev = os.stat(path).st_dev
    number = f"{os.major(dev)}:{os.minor(dev)}"
    sys_dev = f"/sys/dev/block/{number}"
    if not os.path.exists(sys_dev):
        return None  # not a block device: tmpfs, overlay, a network file system
    if os.path.exists(os.path.join(sys_dev, "partition")):
        parent = os.path.realpath(os.path.join(sys_dev, ".."))
        return open(os.path.join(parent, "dev")).read().strip()
    return number


def _group_file():
    return os.path.join(state_dir(), "slowdisk-group")


def setup(path, bytes_per_s):
    """Makes the lab's throttled group for reads from the disk holding `path`; returns a sentence
    saying what was set up, or why nothing was."""
    if os.geteuid() != 0:
        return "disk not slowed (that needs root): cold files cost what this disk costs"
    disk = _disk_of(path)
    if not disk:
        return f"disk not slowed: {path} is not on a block device (tmpfs?), so nothing there is ever cold"
    name = f"one-loop-lab-{os.getpid()}"
    try:
        v2 = os.path.join(V2, "cgroup.controllers")
        if os.path.exists(v2) and "io" in open(v2).read().split():
            with open(os.path.join(V2, "cgroup.subtree_control"), "w") as f:
                f.write("+io")
            group = os.path.join(V2, name)
            os.makedirs(group, exist_ok=True)
            with open(os.path.join(group, "io.max"), "w") as f:
                f.write(f"{disk} rbps={bytes_per_s}")
        elif os.path.exists(os.path.join(V1, "blkio.throttle.read_bps_device")):
            group = os.path.join(V1, name)
            os.makedirs(group, exist_ok=True)
            with open(os.path.join(group, "blkio.throttle.read_bps_device"), "w") as f:
                f.write(f"{disk} {bytes_per_s}")
        else:
            return "disk not slowed: no cgroup io (v2) or blkio (v1) controller here"
    except OSError as e:
        return f"disk not slowed: {e}"
    with open(_group_file(), "w") as f:
        f.write(group)
    return f"the servers read the disk ({disk}) at most {bytes_per_s / 2**20:.0f} MiB/s (cgroup {group})"


def join(pids):
    """Puts these processes (all their threads) in the lab's throttled group, if there is one."""
    if not os.path.exists(_group_file()):
        return
    group = open(_group_file()).read().strip()
    for pid in pids:
        try:
            with open(os.path.join(group, "cgroup.procs"), "w") as f:
                f.write(str(pid))
        except OSError:
            pass  # gone since the look


def remove():
    """Removes the group; called once the lab's servers are stopped, so it is empty."""
    if not os.path.exists(_group_file()):
        return
    group = open(_group_file()).read().strip()
    try:
        os.rmdir(group)
    except OSError:
        pass
    os.remove(_group_file())
