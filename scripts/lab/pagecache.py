"""pagecache: make files cold (drop them from the page cache) and say whether that worked.

posix_fadvise(POSIX_FADV_DONTNEED) asks the kernel to drop a file's clean pages; no root needed.
It cannot drop dirty pages (written, not yet on the disk), so the file is synced first, and on
tmpfs the page cache is the only copy, so nothing is dropped there at all. Whether it worked is
asked with cachestat(2) (Linux 6.5+), which counts a range's cached pages without reading
anything (mincore on a mapping before that). (A read with
preadv2(RWF_NOWAIT) would tell too, but on a miss it starts readahead: asking would warm the file.)"""
import ctypes
import os

_SYS_CACHESTAT = 451  # the same on every architecture


class _Range(ctypes.Structure):
    _fields_ = [("offset", ctypes.c_uint64), ("length", ctypes.c_uint64)]


class _Stat(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in ("cached", "dirty", "writeback", "evicted", "recently_evicted")]


_libc = ctypes.CDLL(None, use_errno=True)


def cached_pages(fd):
    """Pages of the file in the page cache: cachestat, or mmap and mincore before Linux 6.5."""
    stat = _Stat()
    if _libc.syscall(ctypes.c_long(_SYS_CACHESTAT), fd, ctypes.byref(_Range(0, 0)), ctypes.byref(stat), 0) == 0:
        return stat.cached
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    _libc.mmap.restype = ctypes.c_void_p
    _libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    address = _libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
    if address in (None, ctypes.c_void_p(-1).value):
        return None
    pages = (size + os.sysconf("SC_PAGE_SIZE") - 1) // os.sysconf("SC_PAGE_SIZE")
    vector = (ctypes.c_ubyte * pages)()
    ok = _libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vector) == 0
    _libc.munmap(ctypes.c_void_p(address), ctypes.c_size_t(size))
    return sum(v & 1 for v in vector) if ok else None


def evict(paths):
    """Drops every file from the page cache; returns one sentence saying how far that went."""
    cold, unknown, warm = 0, 0, []
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            left = cached_pages(fd)
        finally:
            os.close(fd)
        if left is None:
            unknown += 1
        elif left == 0:
            cold += 1
        else:
            warm.append(f"{os.path.basename(path)} ({left} pages left)")
    if unknown:
        return f"{len(paths)} files asked out of the page cache; {unknown} could not be checked"
    if warm:
        return (f"only {cold} of {len(paths)} files dropped from the page cache; still cached: {', '.join(warm[:3])} "
                "(on tmpfs the page cache is a file's only copy, and cannot be dropped)")
    return f"all {cold} files dropped from the page cache (checked)"
