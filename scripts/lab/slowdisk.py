"""slowdisk: make the disk slow for the servers of one lab, where the machine lets us.

A cold file costs a loop only as long as the disk takes, and some machines' disks are fast: a
virtual disk served from the host's memory reads 8 MiB in a few milliseconds, and then chapter 07's
loop hardly notices a cold file at all. To show what a disk of ordinary speed does, the lab can
limit how fast the servers (and only they) read from it, with the kernel's block I/O throttle:

  cgroup v2   a group with the io controller; "MAJ:MIN rbps=BYTES" in its io.max
  cgroup v1   a group of the blkio hierarchy; "MAJ:MIN BYTES" in blkio.throttle.read_bps_device

It needs root and one of the two (cgroup.py). Without them the lab runs on the disk as it is and
says so. The group is made once per lab and removed when the lab ends (stop_all)."""
import os

from . import cgroup


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


def setup(path, bytes_per_s):
    """Makes the lab's throttled group for reads from the disk holding `path`; returns a sentence
    saying what was set up, or why nothing was."""
    if os.geteuid() != 0:
        return "disk not slowed (that needs root): cold files cost what this disk costs"
    disk = _disk_of(path)
    if not disk:
        return f"disk not slowed: {path} is not on a block device (tmpfs?), so nothing there is ever cold"
    try:
        group = cgroup.make("slowdisk", "io", {"io.max": f"{disk} rbps={bytes_per_s}"},
                            ["blkio"], {"blkio.throttle.read_bps_device": f"{disk} {bytes_per_s}"})
    except OSError as e:
        return f"disk not slowed: {e}"
    if not group:
        return "disk not slowed: no cgroup io (v2) or blkio (v1) controller here"
    return f"the servers read the disk ({disk}) at most {bytes_per_s / 2**20:.0f} MiB/s (cgroup {group})"


def join(pids):
    """Puts these processes (all their threads) in the lab's throttled group, if there is one."""
    cgroup.join("slowdisk", pids)


def remove():
    """Removes the group; called once the lab's servers are stopped, so it is empty."""
    cgroup.remove("slowdisk")
