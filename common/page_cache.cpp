// page_cache: cachestat(2) where the kernel has it, mmap and mincore(2) where not.
#include "page_cache.hpp"

#include "sys.hpp"

#include <algorithm>
#include <cstdint>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace one {
namespace {

// Not in the kernel headers Debian 12 ships (6.1); the number is the same on every architecture.
constexpr long kSysCachestat = 451;

struct CachestatRange {
    uint64_t offset;
    uint64_t length;  // 0: to the end of the file
};
struct Cachestat {
    uint64_t cached, dirty, writeback, evicted, recently_evicted;  // in pages
};

size_t page_size() {
    static const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}

// The pages of [offset, offset + length), counting the partial pages at both ends.
uint64_t pages_in(off_t offset, size_t length) {
    uint64_t first = static_cast<uint64_t>(offset) / page_size();
    uint64_t end = (static_cast<uint64_t>(offset) + length + page_size() - 1) / page_size();
    return end - first;
}

// -1 when the kernel has no cachestat (ENOSYS, or EPERM from a seccomp filter that does not know it).
long cached_pages(int fd, off_t offset, size_t length) {
    CachestatRange range{static_cast<uint64_t>(offset), length};
    Cachestat stat{};
    if (::syscall(kSysCachestat, fd, &range, &stat, 0) < 0) return -1;
    return static_cast<long>(stat.cached);
}

bool resident_by_mincore(int fd, off_t offset, size_t length) {
    off_t start = offset - offset % static_cast<off_t>(page_size());  // mmap wants a page-aligned offset
    size_t span = length + static_cast<size_t>(offset - start);
    void* map = ::mmap(nullptr, span, PROT_READ, MAP_SHARED, fd, start);
    if (map == MAP_FAILED) return false;
    std::vector<unsigned char> pages(pages_in(start, span));
    bool all = ::mincore(map, span, pages.data()) == 0;
    for (unsigned char page : pages) all = all && (page & 1);
    ::munmap(map, span);
    return all;
}

// The file's size, to leave out the part of a range past its end (no pages can be cached there).
size_t clamp_to_file(int fd, off_t offset, size_t length) {
    struct stat st{};
    if (::fstat(fd, &st) < 0 || offset >= st.st_size) return 0;
    return std::min<size_t>(length, static_cast<size_t>(st.st_size - offset));
}

}  // namespace

CacheProbe cache_probe() {
    static const CacheProbe probe = [] {
        Fd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
        return self && cached_pages(self.get(), 0, 1) >= 0 ? CacheProbe::Cachestat : CacheProbe::Mincore;
    }();
    return probe;
}

const char* describe(CacheProbe probe) {
    return probe == CacheProbe::Cachestat ? "cachestat(2)" : "mmap and mincore(2) (no cachestat before Linux 6.5)";
}

bool in_page_cache(int fd, off_t offset, size_t length) {
    if (cache_probe() == CacheProbe::Cachestat) {
        long cached = cached_pages(fd, offset, length);
        if (cached < 0) return false;
        if (static_cast<uint64_t>(cached) >= pages_in(offset, length)) return true;
        // Short: perhaps only because the range runs past the end of the file. One more call
        // (fstat), only on a miss, which is about to cost a trip to the pool anyway.
        size_t inside = clamp_to_file(fd, offset, length);
        return inside == 0 || static_cast<uint64_t>(cached) >= pages_in(offset, inside);
    }
    size_t inside = clamp_to_file(fd, offset, length);
    return inside == 0 || resident_by_mincore(fd, offset, inside);
}

}  // namespace one
