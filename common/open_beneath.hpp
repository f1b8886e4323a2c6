// open_beneath: open a file by a path that a client chose, without ever leaving one directory.
//
// Checking the path's text is not enough. "a/b" looks harmless, but `a` may be a symlink to "/etc",
// and even a path that was checked can change between the check and the open (a rename, a new
// symlink): the classic time-of-check to time-of-use race. The only safe check is the open itself,
// done so that each step of the walk is confined to the directory:
//
//   Openat2  openat2(root, path, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the kernel walks the path
//            and fails with EXDEV at any step that would leave the root, whether by "..", an
//            absolute path or a symlink. Symlinks that stay inside the root are followed. Linux 5.6+.
//   Walk     the fallback where openat2 is missing (ENOSYS, or EPERM from a seccomp filter that does
//            not know it): one openat(O_NOFOLLOW) per component, each relative to the directory the
//            previous step opened. Every symlink is refused, even one that stays inside: following
//            one safely would mean redoing the kernel's walk in user space. nginx's disable_symlinks
//            works this way.
#pragma once

#include "sys.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace one {

enum class Beneath : uint8_t { Openat2, Walk };

class RootDir {
public:
    // Opens `path` as the root. Throws std::system_error when it is missing or not a directory.
    // Without `how`, tries openat2 once and falls back to Walk if this kernel does not have it.
    explicit RootDir(const std::string& path, std::optional<Beneath> how = std::nullopt);

    // Opens `relative` beneath the root, read-only and non-blocking (so a FIFO cannot stall the
    // loop). `relative` has no leading '/' and no ".." component: the caller's first line of defence.
    // On failure returns an empty Fd and sets `err` (EXDEV, ELOOP or ENOTDIR for a refused step).
    Fd open(const std::string& relative, int& err) const;

    // The same open, but only if the kernel can do it without reading the disk: every step of the
    // path is in its lookup cache (RESOLVE_CACHED, Linux 5.12+). Otherwise fails with EAGAIN, and
    // the caller opens it where waiting is allowed (chapter 08's pool). The component walk cannot
    // promise that, so with it this always says EAGAIN.
    Fd open_cached(const std::string& relative, int& err) const;

    Beneath method() const { return how_; }
    const std::string& path() const { return path_; }

private:
    Fd walk(const std::string& relative, int& err) const;

    std::string path_;
    Fd dir_;  // O_PATH: a handle to walk from, not for reading
    Beneath how_ = Beneath::Openat2;
};

// "openat2 (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)" or "openat(O_NOFOLLOW) component by component", for logs.
const char* describe(Beneath how);

}  // namespace one
