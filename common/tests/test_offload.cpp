// The loop's door to a pool (chapter 08), driven in one process with a fake door: what goes
// through it, what stays on the loop, the order of answers, a late answer for a closed connection,
// and the page-cache question that decides whether a file stretch may be sent from the loop.
#include "common/event_server.hpp"
#include "common/page_cache.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chapters/05-epoll/poller.hpp"

using namespace one;
namespace fs = std::filesystem;

namespace {

// Takes every request handed to it and remembers who it was for; refuses when told to.
class FakeDoor final : public Offload {
public:
    struct Taken {
        int fd;
        uint32_t generation;
        std::string target;
        std::string raw;
    };
    std::vector<Taken> taken;
    bool full = false;

    std::optional<http::Response> answer_later(int fd, uint32_t generation, const http::Request& request,
                                               std::span<const char> raw) override {
        if (full) {
            http::Response busy;
            busy.status = 503;
            return busy;  // keep-alive, as chapter 08's is
        }
        taken.push_back({fd, generation, std::string(request.target), std::string(raw.begin(), raw.end())});
        return std::nullopt;
    }
    bool warm_later(int, uint32_t, const http::FileBody&, size_t) override { return false; }
    const char* narrated_as() const override { return "handed to the test"; }
};

Fd connect_to(int port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

// Everything the client has been sent so far, after a few turns of the loop.
std::string turn_and_read(EventServer& server, int client, int turns = 5) {
    std::string got;
    for (int i = 0; i < turns; ++i) {
        server.run_once(10);
        char chunk[4096];
        for (ssize_t n; (n = ::recv(client, chunk, sizeof chunk, MSG_DONTWAIT)) > 0;) got.append(chunk, static_cast<size_t>(n));
    }
    return got;
}

http::Response text(std::string body) {
    http::Response r;
    r.body = std::move(body);
    return r;
}

struct Bench {
    Fd listener = listen_tcp("127.0.0.1", 0);
    int port = local_port(listener.get());
    EpollPoller poller{false};
    App app{"test", "test"};
    FakeDoor door;
    EventServer server{std::move(listener), poller, app, ServerOptions{}, EventOptions{}};
    Bench() { server.hand_off_to(door); }
};

}  // namespace

TEST_SUITE("offload") {

TEST_CASE("a slow route goes through the door with its bytes, and the requests behind it wait their turn") {
    Bench b;
    Fd client = connect_to(b.port);
    std::string sleep = "GET /sleep?ms=5 HTTP/1.1\r\nHost: t\r\n\r\n", hello = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    REQUIRE(write_all(client.get(), hello + sleep + hello).ok());
    CHECK(turn_and_read(b.server, client.get()).find("Hello, World!") != std::string::npos);  // the first, at once
    REQUIRE(b.door.taken.size() == 1);
    CHECK(b.door.taken[0].target == "/sleep?ms=5");
    CHECK(b.door.taken[0].raw == sleep);                  // exactly its bytes, for the job to own
    CHECK(turn_and_read(b.server, client.get()).empty());  // the /hello behind it waits for its answer
    CHECK(b.server.job_done(b.door.taken[0].fd, b.door.taken[0].generation, text("late answer")));
    std::string rest = turn_and_read(b.server, client.get());
    size_t late = rest.find("late answer"), after = rest.find("Hello, World!");
    CHECK(late != std::string::npos);
    CHECK(after != std::string::npos);
    CHECK(late < after);
}

TEST_CASE("an answer for a connection that closed, or for another generation, is dropped") {
    Bench b;
    Fd client = connect_to(b.port);
    REQUIRE(write_all(client.get(), "GET /cpu?n=1 HTTP/1.1\r\nHost: t\r\n\r\n").ok());
    turn_and_read(b.server, client.get());
    REQUIRE(b.door.taken.size() == 1);
    FakeDoor::Taken job = b.door.taken[0];
    CHECK_FALSE(b.server.job_done(job.fd, job.generation + 1, text("not yours")));
    CHECK(turn_and_read(b.server, client.get()).empty());
    CHECK(b.server.job_done(job.fd, job.generation, text("yours")));
    CHECK_FALSE(b.server.job_done(job.fd, job.generation, text("twice")));  // no job pending any more
    CHECK(turn_and_read(b.server, client.get()).find("yours") != std::string::npos);
    client.reset();
    for (int i = 0; i < 5 && b.server.connections() > 0; ++i) b.server.run_once(10);
    CHECK_FALSE(b.server.job_done(job.fd, job.generation, text("gone")));
}

TEST_CASE("when the door refuses, its answer goes out at once and the connection goes on") {
    Bench b;
    b.door.full = true;
    Fd client = connect_to(b.port);
    REQUIRE(write_all(client.get(), "GET /sleep?ms=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n").ok());
    std::string got = turn_and_read(b.server, client.get());
    CHECK(got.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(got.find("Hello, World!") != std::string::npos);
}

TEST_CASE("the app answers on the loop only what cannot make it wait") {
    fs::path dir = fs::temp_directory_path() / ("one-loop-offload-" + std::to_string(getpid()));
    fs::create_directories(dir);
    { std::ofstream(dir / "here.txt") << "cached"; }
    StaticFiles files(dir.string());
    App app("test", "test", &files);
    auto ask = [&](std::string_view method, std::string_view path) {
        http::Request r;
        r.method = method;
        r.path = r.target = path;
        return app.handle_without_waiting(r);
    };
    CHECK_FALSE(ask("GET", "/sleep").has_value());
    CHECK_FALSE(ask("GET", "/cpu").has_value());
    CHECK(ask("GET", "/hello")->body == "Hello, World!");
    CHECK(ask("POST", "/echo")->status == 200);
    CHECK(ask("BREW", "/pot")->status == 501);
    std::optional<http::Response> file = ask("GET", "/here.txt");  // just written: its path is in the kernel's cache
    if (files.root().method() == Beneath::Openat2) {
        REQUIRE(file.has_value());
        CHECK(file->status == 200);
        CHECK(file->file.length == 6);
    } else {
        CHECK_FALSE(file.has_value());  // the component walk cannot promise not to wait
    }
    fs::remove_all(dir);
}

TEST_CASE("the page cache question: yes after a read, no after the pages are dropped") {
    fs::path dir = fs::is_directory("build") ? fs::path("build") : fs::temp_directory_path();  // on the disk, unlike a tmpfs /tmp
    fs::path path = dir / ("one-loop-page-cache-" + std::to_string(getpid()));
    std::string bytes(1 << 20, 'x');
    Fd fd(::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0644));
    REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    ::fdatasync(fd.get());
    CHECK(in_page_cache(fd.get(), 0, bytes.size()));                     // written through the cache
    CHECK(in_page_cache(fd.get(), static_cast<off_t>(bytes.size()) - 10, 100));  // past the end counts as cached
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    bool dropped = !in_page_cache(fd.get(), 0, bytes.size());
    if (dropped) {
        std::vector<char> buf(4096);
        REQUIRE(::pread(fd.get(), buf.data(), buf.size(), 4096) == 4096);
        CHECK(in_page_cache(fd.get(), 4096, 4096));  // the page just read
        std::vector<char> all(bytes.size());
        REQUIRE(::pread(fd.get(), all.data(), all.size(), 0) == static_cast<ssize_t>(all.size()));
        CHECK(in_page_cache(fd.get(), 0, bytes.size()));
    } else {
        MESSAGE("this file system kept the pages after POSIX_FADV_DONTNEED (tmpfs?): the 'no' half is not tested");
    }
    MESSAGE("page cache asked with " << std::string(describe(cache_probe())));
    fs::remove(path);
}

}  // TEST_SUITE
