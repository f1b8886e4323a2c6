// static_files: GET and HEAD for the files under a root directory (chapter 07 on).
//
// A request's path becomes a file in four steps, each able to say no:
//   1. percent-decode it; a broken escape is 400
//   2. refuse what no file name of ours needs: a ".." segment, NUL, a backslash (400)
//   3. open it beneath the root (open_beneath.hpp), so symlinks and races cannot leave it (404)
//   4. a directory means its index.html; anything but a regular file is 404
// Then HTTP's questions about the file: has it changed since the client's copy (If-Modified-Since:
// 304)? Does the client want only part of it (Range: 206, or 416 if the part is not there)?
// The answer carries the open file and the range to send; the connection sends it.
#pragma once

#include "http_parser.hpp"
#include "open_beneath.hpp"
#include "response.hpp"

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace one {

class StaticFiles {
public:
    // Throws std::system_error when `root` is missing or not a directory.
    explicit StaticFiles(const std::string& root, std::optional<Beneath> how = std::nullopt) : root_(root, how) {}

    // Answers a request for the file at request.path. Never throws.
    http::Response serve(const http::Request& request) const;
    // The same answer, but only if finding the file waits for no disk (RootDir::open_cached);
    // nothing when it would: then serve() it where waiting is allowed (chapter 08's pool).
    std::optional<http::Response> serve_without_waiting(const http::Request& request) const;

    const RootDir& root() const { return root_; }

private:
    std::optional<http::Response> respond(const http::Request& request, bool without_waiting) const;
    Fd open_regular(std::string& relative, struct stat& st, int& err, bool without_waiting) const;
    RootDir root_;
};

// The pieces, each tested on its own (common/tests/test_static_files.cpp).

enum class PathCheck : uint8_t { Ok, Malformed, Refused };
// Turns a request path ("/docs/a%20b.txt") into a path relative to the root ("docs/a b.txt"),
// dropping empty and "." segments. Malformed: not starting with '/', or a broken %-escape.
// Refused: a ".." segment, a NUL or a backslash, before or after decoding.
PathCheck to_relative_path(std::string_view path, std::string& relative);

// The Content-Type for a file name, from its extension (any case); application/octet-stream if unknown.
std::string_view content_type_for(std::string_view name);

// Parses an HTTP-date in any of the three forms RFC 9110 says a recipient must accept
// (IMF-fixdate, RFC 850, asctime). False if it is none of them.
bool parse_http_date(std::string_view text, time_t& when);

struct ByteRange {
    uint64_t first = 0;
    uint64_t length = 0;
};
enum class RangeAnswer : uint8_t { Whole, Part, Unsatisfiable };
// What a Range header asks of a file of `size` bytes. Only a single "bytes=" range is honoured;
// anything else (several ranges, another unit, a malformed value) is Whole: the whole file with
// 200, as RFC 9110 allows a server to do. Part sets `range`.
RangeAnswer parse_range(std::string_view header, uint64_t size, ByteRange& range);

}  // namespace one
