// response: status line, headers and body, with the Date header cached per second.
#include "response.hpp"

#include "status.hpp"

#include <charconv>
#include <ctime>

namespace one::http {

std::string_view reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static size_t format_imf_fixdate(time_t when, char (&text)[40]) {
    tm parts{};
    gmtime_r(&when, &parts);
    return strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);  // the C locale: English names
}

std::string_view http_date() {
    thread_local time_t cached_second = 0;
    thread_local char text[40];
    thread_local size_t length = 0;
    time_t now = time(nullptr);  // a vDSO call: no trip into the kernel
    if (now != cached_second) {
        length = format_imf_fixdate(now, text);
        cached_second = now;
    }
    return {text, length};
}

std::string format_http_date(time_t when) {
    char text[40];
    return std::string(text, format_imf_fixdate(when, text));
}

static void append_number(std::string& out, size_t n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out.append(digits, end);
}

void append_response(const Response& r, std::string& out) {
    out += r.interim;
    out += "HTTP/1.1 ";
    append_number(out, static_cast<size_t>(r.status));
    out += ' ';
    out += r.reason.empty() ? reason_phrase(r.status) : std::string_view(r.reason);
    out += "\r\nServer: one-loop\r\nDate: ";
    out += http_date();
    // "Not modified" carries no body, so it says nothing of one's type or length; "no content"
    // must not send a Content-Length at all (RFC 9110 §8.6).
    if (r.status != 304 && r.status != 204) {
        if (!r.content_type.empty()) {
            out += "\r\nContent-Type: ";
            out += r.content_type;
        }
        if (std::optional<uint64_t> length = content_length(r)) {
            out += "\r\nContent-Length: ";
            append_number(out, *length);
        } else if (r.chunked) {
            out += "\r\nTransfer-Encoding: chunked";
        }
    }
    out += r.keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n";
    out += r.extra_headers;
    out += "\r\n";
    if (sends_body(r)) out += r.body;
}

Response error_response(int status, std::string_view why, std::optional<status::Refusal> reason) {
    // Every refusal but a few hand-made 503s is built here, once, just before it is sent.
    if (reason) status::count_refusal(*reason);
    else status::count_refusal_status(status);
    Response r;
    r.status = status;
    r.keep_alive = false;  // after a refusal we cannot trust where the next request would start
    r.body = std::to_string(status) + " " + std::string(reason_phrase(status)) + ": " + std::string(why) + "\n";
    return r;
}

}  // namespace one::http
