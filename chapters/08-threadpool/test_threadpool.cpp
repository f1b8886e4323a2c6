// Chapter 08's own tests, from outside: what the hand-off to the pool promises. The loop goes on
// while a job runs; answers keep their order; an answer whose client left goes nowhere, not even
// to the next client on the same descriptor; a full queue says 503; a stop waits for jobs, up to
// its deadline; a cold file is read by the pool and still arrives whole.
#include "common/blackbox/harness.hpp"
#include "common/blackbox/json.hpp"
#include "common/page_cache.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace one::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The number before `what` in the pool's summary line, which a worker logs when it stops
// ("pool: 3 jobs, 0 refused (queue full), 1 answers dropped (client gone), ..."); -1 if absent.
// Read by hand: std::regex sets off warnings inside libstdc++ in sanitizer builds, which CI makes errors.
long pool_count(const std::string& log, const std::string& what) {
    size_t line = log.find("pool: ");
    if (line == std::string::npos) return -1;
    std::string summary = log.substr(line, log.find('\n', line) - line);
    size_t at = summary.find(" " + what);
    if (at == std::string::npos) return -1;
    size_t digits = at;
    while (digits > 0 && std::isdigit(static_cast<unsigned char>(summary[digits - 1]))) --digits;
    if (digits == at) return -1;
    return std::stol(summary.substr(digits, at - digits));
}

// Stops the server as the master is told to, and returns its log once it has exited.
std::string stop_and_log(ServerProcess& server) {
    kill(server.pid(), SIGTERM);
    int status = server.wait_exit(10000);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    return server.log();
}

// A file of `size` random bytes in a fresh directory, written out to the disk and dropped from
// the page cache: the next read of it must wait for the disk. Empty when this machine would not
// drop it (on tmpfs, say, the page cache is the only copy).
struct ColdFile {
    fs::path dir;
    std::string bytes;
    bool cold = false;
    explicit ColdFile(size_t size) : bytes(size, '\0') {
        std::mt19937_64 random(8);
        for (char& c : bytes) c = static_cast<char>(random());
        for (const char* base : {"build", "/var/tmp", "/tmp"}) {  // on the disk, as far as we can tell
            std::string name = std::string(base) + "/one-loop-08-XXXXXX";
            if (fs::is_directory(base) && mkdtemp(name.data())) {
                dir = name;
                break;
            }
        }
        REQUIRE(!dir.empty());
        one::Fd fd(::open((dir / "cold.bin").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
        ::fdatasync(fd.get());  // dirty pages cannot be dropped
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
        cold = !one::in_page_cache(fd.get(), 0, size);
    }
    ~ColdFile() { fs::remove_all(dir); }
};

}  // namespace

TEST_SUITE("08-threadpool") {

TEST_CASE("a slow request holds up no other client, and the requests pipelined behind it keep their order") {
    ServerProcess server({{"--workers", "1"}});
    Client slow(server.port());
    REQUIRE(slow.send(get("/sleep?ms=2000") + get("/hello") + get("/cpu?n=10") + get("/hello")));
    for (int i = 0; i < 5; ++i) CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
    CHECK_FALSE(slow.has_bytes());  // five answers came while its job slept, and none of its own
    CHECK(slow.read_reply().body == "slept 2000 ms\n");
    CHECK(slow.read_reply().body == "Hello, World!");
    CHECK(slow.read_reply().body.rfind("cpu n=10 ", 0) == 0);
    CHECK(slow.read_reply().body == "Hello, World!");
}

TEST_CASE("what a client sends while its answer is made is kept, and answered after it, in order") {
    // The loop keeps watching a waiting connection (no epoll_ctl to stop and start again); what
    // arrives meanwhile, a request or the end of the client's stream, must wait its turn.
    ServerProcess server({{"--workers", "1"}});
    Client client(server.port());
    REQUIRE(client.send(get("/sleep?ms=400")));
    std::this_thread::sleep_for(100ms);  // the job is running when the next requests come
    REQUIRE(client.send(get("/hello") + get("/sleep?ms=10")));
    std::this_thread::sleep_for(50ms);
    client.shutdown_write();  // and then the client says it has nothing more to send
    CHECK(client.read_reply().body == "slept 400 ms\n");
    CHECK(client.read_reply().body == "Hello, World!");
    CHECK(client.read_reply().body == "slept 10 ms\n");
    CHECK(client.closed_by_server());  // every answer out, and the client done: closed
}

TEST_CASE("an answer whose client left is dropped, even when a new client has the same descriptor") {
    ServerProcess server({{"--workers", "1"}});
    long baseline = server.steady_fds();
    Client gone(server.port());
    REQUIRE(gone.send(get("/sleep?ms=600")));
    int gone_fd = -1;
    for (int i = 0; i < 250 && (gone_fd = server.fd_of(gone)) < 0; ++i) std::this_thread::sleep_for(2ms);
    REQUIRE(gone_fd >= 0);
    gone.reset();  // an error on its socket: the loop closes it while the job sleeps
    for (int i = 0; i < 250 && server.open_fds() != baseline; ++i) std::this_thread::sleep_for(4ms);
    REQUIRE(server.open_fds() == baseline);
    Client next(server.port());  // accept() hands out the lowest free descriptor: the one just closed
    int next_fd = -1;
    for (int i = 0; i < 250 && (next_fd = server.fd_of(next)) < 0; ++i) std::this_thread::sleep_for(2ms);
    CHECK(next_fd == gone_fd);
    REQUIRE(next.send(get("/sleep?ms=1200")));  // waiting for an answer of its own, as the first was
    std::this_thread::sleep_for(800ms);        // the first job has finished, its answer come back...
    CHECK_FALSE(next.has_bytes());             // ...and not to this client
    CHECK(next.read_reply().body == "slept 1200 ms\n");
    REQUIRE(next.send(get("/hello")));
    CHECK(next.read_reply().body == "Hello, World!");
    CHECK_FALSE(next.has_bytes());
    CHECK(pool_count(stop_and_log(server), "answers dropped") == 1);
}

TEST_CASE("/status shows the pool: its threads, the busy ones and the queue") {
    ServerProcess server({{"--workers", "1", "--threads", "1", "--queue", "4"}});
    Client first(server.port()), second(server.port());
    REQUIRE(first.send(get("/sleep?ms=1500")));
    REQUIRE(second.send(get("/sleep?ms=1500")));
    std::optional<Json> page;
    for (int i = 0; i < 100; ++i) {  // until both have reached the pool: one running, one waiting
        page = parse_json(one::test::exchange(server.port(), get("/status?format=json")).body);
        REQUIRE(page);
        if (page->number_at({"total", "model_numbers", "pool_queued"}) == 1 &&
            page->number_at({"total", "model_numbers", "pool_busy"}) == 1)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(page->number_at({"total", "model_numbers", "pool_queued"}) == 1);
    CHECK(page->number_at({"total", "model_numbers", "pool_busy"}) == 1);
    CHECK(page->number_at({"total", "model_numbers", "threads_alive"}) == 2);  // the pool's one and the loop
    CHECK(first.read_reply().status == 200);
    CHECK(second.read_reply().status == 200);
    page = parse_json(one::test::exchange(server.port(), get("/status?format=json")).body);
    REQUIRE(page);
    CHECK(page->number_at({"total", "model_numbers", "pool_busy"}) == 0);
    CHECK(page->number_at({"workers"}) == std::nullopt);  // a list, not a number
    REQUIRE(page->get("workers"));
    CHECK(page->get("workers")->items.size() == 1);
}

TEST_CASE("a full queue answers 503 with Retry-After, and the connection goes on") {
    ServerProcess server({{"--workers", "1", "--threads", "1", "--queue", "1"}});
    Client running(server.port()), waiting(server.port()), refused(server.port());
    REQUIRE(running.send(get("/sleep?ms=800")));
    REQUIRE(waiting.send(get("/sleep?ms=10")));
    std::this_thread::sleep_for(200ms);  // both handed off: one thread busy, one job waiting
    REQUIRE(refused.send(get("/sleep?ms=10")));
    Reply busy = refused.read_reply();
    CHECK(busy.status == 503);
    CHECK(busy.header("Retry-After") == "1");
    CHECK(busy.header("Connection") != "close");
    REQUIRE(refused.send(get("/hello")));
    CHECK(refused.read_reply().status == 200);
    CHECK(running.read_reply().body == "slept 800 ms\n");
    CHECK(waiting.read_reply().body == "slept 10 ms\n");
    std::string log = stop_and_log(server);
    CHECK(log.find("thread pool queue full") != std::string::npos);
    CHECK(pool_count(log, "refused") == 1);
}

TEST_CASE("SIGTERM: no new clients, and a job in flight finishes before the worker exits") {
    ServerProcess server({{"--workers", "1", "--grace", "10"}});
    Client client(server.port());
    REQUIRE(client.send(get("/sleep?ms=700")));
    std::this_thread::sleep_for(200ms);
    kill(server.pid(), SIGTERM);
    Reply reply = client.read_reply();
    CHECK(reply.body == "slept 700 ms\n");
    CHECK(reply.header("Connection") == "close");
    std::string log = stop_and_log(server);
    CHECK(log.find("deadline has passed") == std::string::npos);
    CHECK(log.find("grace period over") == std::string::npos);
}

TEST_CASE("a job still running when --grace runs out is left behind, and the worker exits on time") {
    ServerProcess server({{"--workers", "1", "--grace", "1"}});
    Client client(server.port(), 8000);
    REQUIRE(client.send(get("/sleep?ms=10000")));
    std::this_thread::sleep_for(200ms);
    kill(server.pid(), SIGTERM);
    std::string got;
    CHECK(client.read_to_close(got));  // closed at the deadline...
    CHECK(got.empty());                // ...with no answer: there was none yet
    int status = server.wait_exit(5000);  // long before the sleep would have ended
    CHECK(WIFEXITED(status));
    std::string log = server.log();
    CHECK(log.find("deadline has passed: closing 1 connections") != std::string::npos);
    CHECK(log.find("grace period over") == std::string::npos);  // the worker left by itself
}

TEST_CASE("what the loop can answer never reaches the pool") {
    fs::path dir = fs::temp_directory_path() / ("one-loop-08-warm-" + std::to_string(getpid()));
    fs::create_directories(dir);
    { std::ofstream(dir / "small.txt") << "in the page cache"; }
    ServerProcess server({{"--workers", "1", "--root", dir.string()}});
    Client client(server.port());
    for (int i = 0; i < 200; ++i) {
        REQUIRE(client.send(get("/hello") + request("POST", "/echo", "", "x") + get("/small.txt")));
        CHECK(client.read_reply().status == 200);
        CHECK(client.read_reply().body == "x");
        CHECK(client.read_reply().body == "in the page cache");
    }
    std::string log = stop_and_log(server);
    CHECK(pool_count(log, "jobs") == 0);
    CHECK(pool_count(log, "wake-ups") == 0);
    fs::remove_all(dir);
}

TEST_CASE("a file not in the page cache is read in by the pool, and arrives byte for byte") {
    for (bool copy : {false, true}) {
        CAPTURE(copy);
        ColdFile file(3 << 20);
        if (!file.cold) {
            MESSAGE("skipped: this machine kept the file in the page cache after POSIX_FADV_DONTNEED (tmpfs?)");
            return;
        }
        std::vector<std::string> args = {"--workers", "1", "--root", file.dir.string()};
        if (copy) args.push_back("--copy");
        ServerProcess server({args});
        Reply reply = exchange(server.port(), get("/cold.bin"));
        CHECK(reply.status == 200);
        CHECK(reply.body.size() == file.bytes.size());
        CHECK(reply.body == file.bytes);
        CHECK(pool_count(stop_and_log(server), "jobs") >= 1);
    }
}

}  // TEST_SUITE
