// app: the application every chapter serves, so that two chapters differ only in how they move bytes.
//
//   GET  /            a small page naming the chapter and its model
//   GET  /hello       "Hello, World!" (the plaintext benchmark body; nginx and Node answer the same bytes)
//   POST /echo        the request body back
//   GET  /sleep?ms=N  blocks the serving thread N ms (0..10000): what does blocking do to each model?
//   GET  /cpu?n=N     N rounds of arithmetic (0..100000000): CPU-bound work on the serving thread
//   GET  /status      what the server is doing and has done (see status.hpp); ?format=json for JSON
//   GET  /any/path    with static files (chapter 07 on): the file under the root, see static_files.hpp
// HEAD works wherever GET does. Unknown paths get 404, a known path with the wrong method 405,
// a method we do not know at all 501.
#pragma once

#include "http_parser.hpp"
#include "response.hpp"
#include "static_files.hpp"
#include "status.hpp"

#include <optional>
#include <string>

namespace one {

class App {
public:
    // `files`: where paths that are not routes go; without it they are 404. A response may then
    // carry a file body, which only the event loop's connections send: the blocking chapters
    // (01, 02) never get files.
    App(std::string chapter, std::string model, const StaticFiles* files = nullptr)
        : chapter_(std::move(chapter)), model_(std::move(model)), files_(files) {
        status::counting = true;  // this process serves: its socket calls count for /status
    }

    // Answers one request. Never throws; the caller sets nothing but what it must send.
    http::Response handle(const http::Request& request) const;

    // The same answer, but only if giving it cannot make the thread wait: nothing for /sleep and
    // /cpu (they block on purpose) and for a file whose path the kernel would have to read from
    // the disk. Chapter 08's loop calls this, and hands what it refuses to a thread that calls handle().
    std::optional<http::Response> handle_without_waiting(const http::Request& request) const;

private:
    http::Response route(const http::Request& request) const;
    http::Response status_page(const http::Request& request) const;
    static void finish(http::Response& response, const http::Request& request);
    std::string chapter_;  // "05-epoll"
    std::string model_;    // "one thread, epoll, non-blocking sockets"
    const StaticFiles* files_;
};

// Finds `key` in a query string "a=1&b=2" and sets `value` to what follows its "="; false when absent.
bool query_param(std::string_view query, std::string_view key, std::string_view& value);

}  // namespace one
