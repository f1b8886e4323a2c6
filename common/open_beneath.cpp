// open_beneath: openat2 with RESOLVE_BENEATH where the kernel has it, a component walk where not.
#include "open_beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace one {
namespace {

// The file is opened non-blocking: open() of a FIFO for reading would otherwise wait for a writer,
// and that wait would be the whole loop's. The file itself is then refused for not being regular.
constexpr int kFileFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

// glibc has no wrapper for openat2 before 2.40; the system call has been there since Linux 5.6.
int openat2_beneath(int dir, const char* path, uint64_t flags, uint64_t resolve = 0) {
    open_how how{};
    how.flags = flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve;  // BENEATH blocks magic links today; say so for tomorrow
    return static_cast<int>(retry_eintr([&] { return ::syscall(SYS_openat2, dir, path, &how, sizeof how); }));
}

// Does this kernel have openat2? ENOSYS: too old. EPERM: a seccomp filter (some container
// runtimes) that refuses system calls it was not told about.
bool have_openat2(int dir) {
    Fd probe(openat2_beneath(dir, ".", O_PATH | O_CLOEXEC));
    return probe || (errno != ENOSYS && errno != EPERM);
}

// Opens one component `name` in the directory `at`, never following a symlink (a symlinked
// directory fails with ENOTDIR, a symlinked file with ELOOP) and never going up: ".." is refused
// here too, as RESOLVE_BENEATH would, whatever the caller checked.
Fd open_step(int at, const std::string& name, int flags, int& err) {
    if (name == ".." || name.empty()) {
        err = name.empty() ? ENOENT : EXDEV;
        return {};
    }
    Fd fd(retry_eintr([&] { return ::openat(at, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC); }));
    err = fd ? 0 : errno;
    return fd;
}

}  // namespace

RootDir::RootDir(const std::string& path, std::optional<Beneath> how) : path_(path) {
    dir_ = Fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_) throw_errno("--root " + path);  // ENOENT, or ENOTDIR for a file
    how_ = how ? *how : have_openat2(dir_.get()) ? Beneath::Openat2 : Beneath::Walk;
}

Fd RootDir::open(const std::string& relative, int& err) const {
    if (how_ == Beneath::Walk) return walk(relative, err);
    int fd = openat2_beneath(dir_.get(), relative.c_str(), kFileFlags);
    // EAGAIN: the kernel saw a rename race it could not rule out an escape through. Try again, twice.
    for (int retry = 0; fd < 0 && errno == EAGAIN && retry < 2; ++retry) fd = openat2_beneath(dir_.get(), relative.c_str(), kFileFlags);
    err = fd < 0 ? errno : 0;
    return Fd(fd);
}

Fd RootDir::open_cached(const std::string& relative, int& err) const {
    if (how_ == Beneath::Walk) {
        err = EAGAIN;
        return {};
    }
    int fd = openat2_beneath(dir_.get(), relative.c_str(), kFileFlags, RESOLVE_CACHED);
    err = fd >= 0 ? 0 : errno == EINVAL ? EAGAIN : errno;  // EINVAL: a kernel before RESOLVE_CACHED
    return Fd(fd);
}

// One step per component, each relative to the directory the previous step opened.
Fd RootDir::walk(const std::string& relative, int& err) const {
    Fd dir;
    size_t start = 0;
    for (size_t slash; (slash = relative.find('/', start)) != std::string::npos; start = slash + 1) {
        dir = open_step(dir ? dir.get() : dir_.get(), relative.substr(start, slash - start), O_PATH | O_DIRECTORY, err);
        if (!dir) return {};
    }
    return open_step(dir ? dir.get() : dir_.get(), relative.substr(start), kFileFlags, err);
}

const char* describe(Beneath how) {
    return how == Beneath::Openat2 ? "openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS"
                                   : "openat() with O_NOFOLLOW, component by component (no openat2 here); symlinks refused";
}

}  // namespace one
