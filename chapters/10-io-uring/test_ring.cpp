// Chapter 10's own tests: what a ring adds to the shared suite's promises. The buffer ring running
// dry, a multishot receive that ends and is armed again, operations still in the kernel when a
// connection is closed, and what the binary says about the ring it got.
#include "common/blackbox/harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <sys/syscall.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace one::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Stops `server` with SIGTERM and returns the number just before `words` in its worker's
// "ring: ..." line, or -1 if the line is missing. Read by hand rather than with std::regex, which
// sets off warnings inside libstdc++ in sanitizer builds that CI turns into errors.
long ring_counter(ServerProcess& server, const std::string& words) {
    kill(server.pid(), SIGTERM);
    REQUIRE(server.wait_exit(10000) != -1);
    std::string log = server.log();
    CAPTURE(log);
    size_t end = log.find(" " + words);
    if (end == std::string::npos) return -1;
    size_t begin = end;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(log[begin - 1]))) --begin;
    return begin == end ? -1 : std::stol(log.substr(begin, end - begin));
}

const char* kRearmed = "multishot receives armed again";
const char* kOutOfBuffers = "of them after the buffers ran out";

// A temporary directory holding one file of `size` bytes, "big.bin". Its bytes differ from block
// to block, so a block sent twice, dropped or out of order shows.
class BigFile {
public:
    explicit BigFile(size_t size) : dir_(fs::temp_directory_path() / ("one-loop-10-" + std::to_string(getpid()))) {
        fs::create_directories(dir_);
        bytes_.resize(size);
        for (size_t i = 0; i < size; ++i) bytes_[i] = static_cast<char>('a' + (i / 1000 + i) % 26);
        std::ofstream(dir_ / "big.bin", std::ios::binary) << bytes_;
    }
    ~BigFile() { fs::remove_all(dir_); }
    std::string root() const { return dir_.string(); }
    const std::string& bytes() const { return bytes_; }

private:
    fs::path dir_;
    std::string bytes_;
};

// One worker serving `site`'s files, read and sent or (`splice`) spliced, with `more` options.
ServerSpec file_server(const BigFile& site, bool splice, std::vector<std::string> more = {}) {
    ServerSpec spec{{"--workers", "1", "--root", site.root()}};
    if (splice) spec.args.push_back("--splice");
    spec.args.insert(spec.args.end(), more.begin(), more.end());
    return spec;
}

// The server's descriptor count once it has held still, waiting up to 5 s for it to reach `want`.
long fds_back_to(const ServerProcess& server, long want) {
    long now = server.open_fds();
    for (int i = 0; i < 250 && now != want; ++i, now = server.open_fds()) std::this_thread::sleep_for(20ms);
    return now;
}

}  // namespace

TEST_SUITE("10-io-uring") {

TEST_CASE("--probe and the start-up log say which ring features the kernel gave") {
    std::string output;
    CHECK(run_binary("--probe", output) == 0);
    CHECK(output.find("io_uring available: ") == 0);
    ServerProcess server;
    CHECK(exchange(server.port(), get("/hello")).status == 200);
    CHECK(server.log().find("one ring each; the kernel gave ") != std::string::npos);
}

TEST_CASE("without io_uring (a seccomp filter, as in a container) it says why in one line and exits 3") {
    for (int error : {ENOSYS, EPERM}) {
        CAPTURE(error);
        for (const char* args : {"--probe", "--port 0"}) {
            std::string output;
            CHECK(run_binary_refused(__NR_io_uring_setup, error, args, output) == 3);
            CAPTURE(output);
            CHECK(output.find("io_uring unavailable: ") == 0);
            CHECK(output.find("seccomp") != std::string::npos);
            CHECK(std::count(output.begin(), output.end(), '\n') == 1);
            CHECK(output.find("listening on") == std::string::npos);
        }
    }
}

TEST_CASE("bad ring flags get a clear message") {
    std::string output;
    CHECK(run_binary("--port 0 --ring-buffers 3", output) != 0);
    CHECK(output.find("power of two") != std::string::npos);
    output.clear();
    CHECK(run_binary("--port 0 --ring-buffer-size 10", output) != 0);
    CHECK(output.find("--ring-buffer-size") != std::string::npos);
    output.clear();
    CHECK(run_binary("--port 0 --shared-listener --exclusive", output) == 2);
    CHECK(output.find("EPOLLEXCLUSIVE") != std::string::npos);
}

// One 64-byte buffer for every connection: nearly every receive finds the ring empty and ends
// with ENOBUFS. Each must be armed again, with no byte lost or reordered and no client left waiting.
TEST_CASE("with one tiny receive buffer, every byte still arrives: ENOBUFS ends a receive and it is armed again") {
    ServerProcess server({{"--workers", "1", "--ring-buffers", "1", "--ring-buffer-size", "64"}});
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 30; ++i) clients.push_back(std::make_unique<Client>(server.port()));
    for (int round = 0; round < 5; ++round) {
        // Every client sends a pipelined pair before any reads, so bytes for many connections
        // arrive in the same turn and compete for the one buffer.
        for (size_t i = 0; i < clients.size(); ++i) {
            std::string body = std::to_string(round) + ":" + std::to_string(i) + ":" + std::string(300 + i * 37, 'a' + i % 26);
            REQUIRE(clients[i]->send(request("POST", "/echo", "", body) + get("/hello")));
        }
        for (size_t i = 0; i < clients.size(); ++i) {
            std::string want = std::to_string(round) + ":" + std::to_string(i) + ":" + std::string(300 + i * 37, 'a' + i % 26);
            CHECK(clients[i]->read_reply().body == want);
            CHECK(clients[i]->read_reply().body == "Hello, World!");
        }
    }
    clients.clear();
    CHECK(ring_counter(server, kOutOfBuffers) > 0);  // the buffers did run out, so the re-arm was tested
}

// A client that keeps sending while its answers wait to be sent stops being read (the receive is
// cancelled at 64 KiB); once it reads again, the receive is armed again and every answer comes.
TEST_CASE("a receive cancelled while answers wait is armed again, and nothing is lost") {
    ServerProcess server({{"--workers", "1"}});
    Client client(server.port(), 10000);
    constexpr int kRequests = 64;
    std::string body(64 * 1024, 'x');
    std::thread sender([&] {
        for (int i = 0; i < kRequests; ++i) {
            body[0] = static_cast<char>('A' + i % 26);
            if (!client.send(request("POST", "/echo", "", body))) break;
        }
    });
    std::this_thread::sleep_for(500ms);  // 4 MiB sent, answers unread: the server has stopped reading
    for (int i = 0; i < kRequests; ++i) {
        Reply reply = client.read_reply();
        REQUIRE(reply.status == 200);
        CHECK(reply.body.size() == body.size());
        CHECK(reply.body[0] == static_cast<char>('A' + i % 26));
    }
    sender.join();
    CHECK(ring_counter(server, kRearmed) > 0);
}

// Files go out a block at a time, read into memory and sent, or with --splice as pairs of linked
// splices (file -> pipe, pipe -> socket). A short first splice breaks the link, a splice to a full
// socket fails with EAGAIN and waits on a poll: each path must still deliver every byte once, in
// order, and leave the pipe empty for the next file.
TEST_CASE("files arrive whole and in order, ranges and pipelined ones too, to a reader that stalls") {
    bool splice = false;
    SUBCASE("files read and sent") {}
    SUBCASE("files spliced") { splice = true; }
    BigFile site(5 << 20);
    ServerProcess server(file_server(site, splice));
    Client client(server.port(), 10000);
    REQUIRE(client.send(get("/big.bin") + get("/hello") + request("GET", "/big.bin", "Range: bytes=70000-3000000\r\n", "")));
    std::this_thread::sleep_for(300ms);  // unread: the socket fills, and the send or splice finds it full
    Reply whole = client.read_reply();
    CHECK(whole.status == 200);
    CHECK(whole.body == site.bytes());
    CHECK(client.read_reply().body == "Hello, World!");
    Reply part = client.read_reply();
    CHECK(part.status == 206);
    CHECK(part.body == site.bytes().substr(70000, 3000000 - 70000 + 1));
    for (int i = 0; i < 5; ++i) CHECK(exchange(server.port(), get("/big.bin")).body == site.bytes());  // a reused pipe
    kill(server.pid(), SIGTERM);
    REQUIRE(server.wait_exit(10000) != -1);
    std::string log = server.log();
    CAPTURE(log);
    if (splice) {
        CHECK(log.find(" file blocks spliced through pipes") != std::string::npos);
        CHECK(log.find(" 0 splices found the socket full") == std::string::npos);  // the stalled reader was tested
    }
}

// A client that never reads a long answer: the send waits in the kernel until the idle timeout
// closes the connection. The close must cancel the send and the receive, and free the connection
// (its descriptor, and with --splice its pipe) only when the kernel has handed every one back.
TEST_CASE("closing a connection whose send is stuck in the kernel cancels it and frees everything") {
    bool splice = false;
    SUBCASE("files read and sent") {}
    SUBCASE("files spliced") { splice = true; }
    BigFile site(16 << 20);
    ServerProcess server(file_server(site, splice, {"--idle-timeout", "300"}));
    long before = server.steady_fds();
    std::vector<std::unique_ptr<Client>> stuck;
    for (int i = 0; i < 10; ++i) {
        stuck.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(stuck.back()->send(get("/big.bin")));
    }
    std::this_thread::sleep_for(100ms);
    CHECK(server.open_fds() >= before + 10);  // held while their sends wait
    std::this_thread::sleep_for(600ms);       // past the idle timeout, with nothing read
    for (auto& c : stuck) {
        std::string got;
        CHECK(c->read_to_close(got));  // the idle timeout ends it: a part of the file, then the close
        CHECK(got.size() < (16u << 20));
    }
    CHECK(fds_back_to(server, before) == before);
    CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
}

TEST_CASE("clients that reset in the middle of long answers leak nothing") {
    bool splice = false;
    SUBCASE("files read and sent") {}
    SUBCASE("files spliced") { splice = true; }
    BigFile site(8 << 20);
    ServerProcess server(file_server(site, splice));
    long before = server.steady_fds();
    for (int round = 0; round < 3; ++round) {
        std::vector<std::unique_ptr<Client>> clients;
        for (int i = 0; i < 30; ++i) {
            clients.push_back(std::make_unique<Client>(server.port()));
            REQUIRE(clients.back()->send(get("/big.bin") + get("/hello")));
        }
        for (auto& c : clients) {
            char some[4096];
            CHECK(::recv(c->fd(), some, sizeof some, 0) > 0);  // the answer has begun...
            c->reset();                                        // ...and the client is gone
        }
    }
    CHECK(fds_back_to(server, before) == before);
    CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
    CHECK(server.alive());
}

}  // TEST_SUITE
