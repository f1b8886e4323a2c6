// app: the shared routes. Every chapter links this file, so every chapter serves the same bytes.
#include "app.hpp"

#include "status.hpp"

#include <charconv>
#include <chrono>
#include <thread>

namespace one {
namespace {

using http::Request;
using http::Response;

constexpr std::string_view kKnownMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"};

bool is_known_method(std::string_view m) {
    for (std::string_view k : kKnownMethods)
        if (m == k) return true;
    return false;
}

Response text(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

Response not_allowed(std::string_view allow) {
    Response r = text(405, "405 Method Not Allowed\n");
    r.extra_headers = allow;
    return r;
}

// Reads a whole number in [0, max] from the query, or returns false.
bool number_param(std::string_view query, std::string_view key, uint64_t max, uint64_t& n) {
    std::string_view value;
    if (!query_param(query, key, value)) return false;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    return ec == std::errc() && end == value.data() + value.size() && n <= max;
}

Response sleep_for(const Request& req) {
    uint64_t ms = 0;
    if (!number_param(req.query, "ms", 10000, ms)) return text(400, "400 Bad Request: use /sleep?ms=N with N in 0..10000\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // blocks this thread: that is the point
    return text(200, "slept " + std::to_string(ms) + " ms\n");
}

Response burn_cpu(const Request& req) {
    uint64_t n = 0;
    if (!number_param(req.query, "n", 100'000'000, n)) return text(400, "400 Bad Request: use /cpu?n=N with N in 0..100000000\n");
    uint64_t x = 88172645463325252ull;  // xorshift64: cheap, and the compiler cannot skip it
    for (uint64_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return text(200, "cpu n=" + std::to_string(n) + " result=" + std::to_string(x) + "\n");
}

// The paths route() answers itself; any other goes to the files, when there are files.
bool is_route(std::string_view path) {
    return path == "/hello" || path == "/" || path == "/echo" || path == "/sleep" || path == "/cpu" || path == "/status";
}

}  // namespace

bool query_param(std::string_view query, std::string_view key, std::string_view& value) {
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        size_t eq = pair.find('=');
        if (pair.substr(0, eq) == key) {
            value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
            return true;
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return false;
}

Response App::status_page(const Request& req) const {
    std::string_view format;
    bool json = query_param(req.query, "format", format) && format == "json";
    Response r = text(200, status::render(chapter_, model_, json));
    r.content_type = json ? "application/json" : "text/plain; charset=utf-8";
    return r;
}

Response App::route(const Request& req) const {
    bool get = req.method == "GET" || req.method == "HEAD";
    constexpr std::string_view kAllowGet = "Allow: GET, HEAD\r\n";
    if (req.path == "/hello") return get ? text(200, "Hello, World!") : not_allowed(kAllowGet);
    if (req.path == "/") {
        if (!get) return not_allowed(kAllowGet);
        Response r = text(200, "<!doctype html>\n<title>one-loop " + chapter_ + "</title>\n<h1>one-loop: " + chapter_ +
                                   "</h1>\n<p>" + model_ + "</p>\n<p>Try /hello, /echo (POST), /sleep?ms=100, /cpu?n=1000000, /status</p>\n");
        r.content_type = "text/html; charset=utf-8";
        return r;
    }
    if (req.path == "/echo") {
        if (req.method != "POST" && req.method != "PUT") return not_allowed("Allow: POST, PUT\r\n");
        Response r = text(200, std::string(req.body));
        r.content_type = "application/octet-stream";
        return r;
    }
    if (req.path == "/sleep") return get ? sleep_for(req) : not_allowed(kAllowGet);
    if (req.path == "/cpu") return get ? burn_cpu(req) : not_allowed(kAllowGet);
    if (req.path == "/status") return get ? status_page(req) : not_allowed(kAllowGet);
    if (files_) return files_->serve(req);
    return text(404, "404 Not Found\n");
}

void App::finish(Response& r, const Request& req) {
    r.head_only = req.method == "HEAD";
    r.keep_alive = req.keep_alive;
}

Response App::handle(const Request& req) const {
    Response r = is_known_method(req.method) ? route(req) : text(501, "501 Not Implemented: unknown method\n");
    finish(r, req);
    return r;
}

std::optional<Response> App::handle_without_waiting(const Request& req) const {
    if (req.path == "/sleep" || req.path == "/cpu") return std::nullopt;
    if (!files_ || !is_known_method(req.method) || is_route(req.path)) return handle(req);
    std::optional<Response> r = files_->serve_without_waiting(req);
    if (r) finish(*r, req);
    return r;
}

}  // namespace one
