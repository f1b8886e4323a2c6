// static_files: from a request path to an open file, and the headers HTTP wants about it.
#include "static_files.hpp"

#include "status.hpp"

#include <charconv>
#include <sys/stat.h>

namespace one {
namespace {

using http::Request;
using http::Response;

Response plain(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        int high = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
        int low = high >= 0 ? hex_value(in[i + 2]) : -1;
        if (low < 0) return false;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return true;
}

// A run of digits as a number; one too large for 64 bits saturates (it is past any file's end).
bool parse_position(std::string_view digits, uint64_t& n) {
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) return false;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::result_out_of_range) n = UINT64_MAX;
    return true;
}

// RFC 9110 13.1.3: the client's copy is current if the file has not changed since the date it
// sent. Ignored when If-None-Match is present (it would win, and we send no ETags to match).
bool not_modified(const Request& req, time_t modified) {
    std::string_view since = req.header("If-Modified-Since");
    time_t when;
    if (since.empty() || !req.header("If-None-Match").empty() || !parse_http_date(since, when)) return false;
    return modified <= when;
}

// Range applies to GET only (RFC 9110 14.2), and If-Range says "only if the file is still the one
// I have": a date other than our Last-Modified (or an ETag, which we never sent) means the whole file.
RangeAnswer requested_range(const Request& req, uint64_t size, std::string_view last_modified, ByteRange& range) {
    std::string_view header = req.header("Range");
    std::string_view if_range = req.header("If-Range");
    if (header.empty() || req.method != "GET" || (!if_range.empty() && if_range != last_modified)) return RangeAnswer::Whole;
    return parse_range(header, size, range);
}

Response unsatisfiable(uint64_t size) {
    Response r = plain(416, "416 Range Not Satisfiable\n");
    r.extra_headers = "Content-Range: bytes */" + std::to_string(size) + "\r\n";
    return r;
}

// The answer for an open regular file: 200, 206, 304 or 416.
Response answer(const Request& req, Fd file, const struct stat& st, std::string_view name) {
    Response r;
    r.content_type = content_type_for(name);
    std::string modified = http::format_http_date(st.st_mtime);
    r.extra_headers = "Last-Modified: " + modified + "\r\n";
    if (not_modified(req, st.st_mtime)) {
        r.status = 304;
        return r;  // the file closes here: nothing of it is sent
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    ByteRange range{0, size};
    switch (requested_range(req, size, modified, range)) {
    case RangeAnswer::Whole: break;
    case RangeAnswer::Unsatisfiable: return unsatisfiable(size);
    case RangeAnswer::Part:
        r.status = 206;
        r.extra_headers += "Content-Range: bytes " + std::to_string(range.first) + "-" +
                           std::to_string(range.first + range.length - 1) + "/" + std::to_string(size) + "\r\n";
        break;
    }
    r.extra_headers += "Accept-Ranges: bytes\r\n";
    r.file = {std::move(file), static_cast<off_t>(range.first), static_cast<size_t>(range.length)};
    return r;
}

Response open_failed(int err) {
    switch (err) {
    case EACCES:
    case EPERM: return plain(403, "403 Forbidden\n");
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        status::count_refusal(status::Refusal::NoRoomDescriptors);
        return plain(503, "503 Service Unavailable: out of file descriptors\n");
    default: return plain(404, "404 Not Found\n");  // ENOENT, and EXDEV/ELOOP/ENOTDIR: refused steps look like absence
    }
}

}  // namespace

PathCheck to_relative_path(std::string_view path, std::string& relative) {
    std::string decoded;
    if (path.empty() || path[0] != '/' || !percent_decode(path, decoded)) return PathCheck::Malformed;
    if (decoded.find('\0') != std::string::npos || decoded.find('\\') != std::string::npos) return PathCheck::Refused;
    relative.clear();
    // Decoded first, split after: "..%2f" is refused as a ".." segment, "a%2fb" is just "a/b".
    for (size_t start = 1, slash; start <= decoded.size(); start = slash + 1) {
        slash = std::min(decoded.find('/', start), decoded.size());
        std::string_view segment = std::string_view(decoded).substr(start, slash - start);
        if (segment == "..") return PathCheck::Refused;
        if (segment.empty() || segment == ".") continue;
        if (!relative.empty()) relative += '/';
        relative += segment;
    }
    return PathCheck::Ok;
}

std::string_view content_type_for(std::string_view name) {
    struct Type {
        std::string_view extension, type;
    };
    static constexpr Type kTypes[] = {
        {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"}, {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"}, {"mjs", "text/javascript; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"}, {"csv", "text/csv; charset=utf-8"},
        {"json", "application/json"}, {"xml", "application/xml"}, {"pdf", "application/pdf"}, {"wasm", "application/wasm"},
        {"zip", "application/zip"}, {"gz", "application/gzip"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
        {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"},
        {"avif", "image/avif"}, {"ico", "image/x-icon"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
        {"mp4", "video/mp4"}, {"webm", "video/webm"}, {"mp3", "audio/mpeg"},
    };
    size_t dot = name.rfind('.');
    size_t slash = name.rfind('/');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "application/octet-stream";
    std::string_view extension = name.substr(dot + 1);
    for (const Type& t : kTypes)
        if (http::iequals(extension, t.extension)) return t.type;
    return "application/octet-stream";
}

bool parse_http_date(std::string_view text, time_t& when) {
    // The C locale's day and month names are HTTP's; the servers never call setlocale().
    static constexpr const char* kForms[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"};
    std::string copy(text);  // strptime wants a terminated string
    for (const char* form : kForms) {
        tm parts{};
        const char* end = strptime(copy.c_str(), form, &parts);
        if (end && *end == '\0') {
            when = timegm(&parts);
            return when != -1;
        }
    }
    return false;
}

RangeAnswer parse_range(std::string_view header, uint64_t size, ByteRange& range) {
    constexpr std::string_view kUnit = "bytes=";
    if (header.size() < kUnit.size() || !http::iequals(header.substr(0, kUnit.size()), kUnit)) return RangeAnswer::Whole;
    std::string_view spec = header.substr(kUnit.size());
    size_t dash = spec.find('-');
    if (spec.find(',') != std::string_view::npos || dash == std::string_view::npos) return RangeAnswer::Whole;
    uint64_t first = 0, last = UINT64_MAX;
    if (dash == 0) {  // "-N": the last N bytes
        if (!parse_position(spec.substr(1), last)) return RangeAnswer::Whole;
        if (last == 0 || size == 0) return RangeAnswer::Unsatisfiable;
        range = {size - std::min(last, size), std::min(last, size)};
        return RangeAnswer::Part;
    }
    if (!parse_position(spec.substr(0, dash), first)) return RangeAnswer::Whole;
    if (dash + 1 < spec.size() && !parse_position(spec.substr(dash + 1), last)) return RangeAnswer::Whole;
    if (last < first) return RangeAnswer::Whole;  // invalid, so ignored (RFC 9110 14.1.1)
    if (first >= size) return RangeAnswer::Unsatisfiable;
    range = {first, std::min(last, size - 1) - first + 1};  // a last byte past the end means "to the end"
    return RangeAnswer::Part;
}

// Opens the regular file `relative` names, or the index.html of the directory it names; on
// success `relative` names what was opened. Anything else (a FIFO, a socket, a device) is ENOENT.
// fstat needs no disk: the inode is in memory once the file is open.
Fd StaticFiles::open_regular(std::string& relative, struct stat& st, int& err, bool without_waiting) const {
    auto open = [&](const std::string& path) { return without_waiting ? root_.open_cached(path, err) : root_.open(path, err); };
    Fd fd = open(relative.empty() ? "." : relative);
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
        relative += relative.empty() ? "index.html" : "/index.html";
        fd = open(relative);
        if (fd && ::fstat(fd.get(), &st) < 0) st.st_mode = 0;
    }
    if (!fd) return fd;
    if (!S_ISREG(st.st_mode)) {
        err = ENOENT;
        return {};
    }
    return fd;
}

std::optional<Response> StaticFiles::respond(const Request& req, bool without_waiting) const {
    std::string relative;
    switch (to_relative_path(req.path, relative)) {
    case PathCheck::Ok: break;
    case PathCheck::Malformed: return plain(400, "400 Bad Request: malformed path\n");
    case PathCheck::Refused: return plain(400, "400 Bad Request: a path with '..', NUL or '\\' is refused\n");
    }
    struct stat st{};
    int err = 0;
    Fd file = open_regular(relative, st, err, without_waiting);
    if (!file && err == EAGAIN && without_waiting) return std::nullopt;
    if (!file) return open_failed(err);
    if (req.method != "GET" && req.method != "HEAD") {
        Response r = plain(405, "405 Method Not Allowed\n");
        r.extra_headers = "Allow: GET, HEAD\r\n";
        return r;
    }
    return answer(req, std::move(file), st, relative);
}

Response StaticFiles::serve(const Request& req) const { return *respond(req, false); }

std::optional<Response> StaticFiles::serve_without_waiting(const Request& req) const { return respond(req, true); }

}  // namespace one
