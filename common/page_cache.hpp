// page_cache: is this part of a file in memory, so that reading it cannot wait for the disk?
//
// sendfile() and read() never say "would block" for a file: a page that is not in the page cache
// is read from the disk while the caller waits, and in an event loop the caller is every client.
// Chapter 08 asks first, and hands only the misses to its thread pool. Two ways to ask:
//
//   cachestat  cachestat(2), Linux 6.5+: counts the cached pages of a range; no I/O, no mapping
//   mincore    older kernels: map the range, ask which pages are resident, unmap it (three calls)
//
// preadv2(RWF_NOWAIT) answers the same question for a read into a buffer (EAGAIN on a miss), which
// suits --copy; sendfile has no such flag on Linux (FreeBSD's has SF_NODISKIO), hence this.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace one {

enum class CacheProbe : unsigned char { Cachestat, Mincore };

// Which probe this kernel offers (asked once, then remembered).
CacheProbe cache_probe();
const char* describe(CacheProbe probe);  // for the start-up log

// True when every page of [offset, offset + length) of `fd` is in the page cache. A range past the
// file's end counts as cached (there is nothing to read). An error in asking counts as not cached,
// so the caller takes the safe road (the pool) rather than risk blocking the loop.
bool in_page_cache(int fd, off_t offset, size_t length);

}  // namespace one
