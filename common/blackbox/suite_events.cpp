// The shared black-box suite, part 4: what an event-loop server (chapter 03 on) must do about
// clients that are slow, silent, greedy or too many. Chapters 01 and 02 skip this suite: a thread
// blocked in recv() has its timeouts as socket options, and chapter 02 tests its own limits.
#include "harness.hpp"
#include "json.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <sys/socket.h>
#include <thread>

using namespace one::test;
using namespace std::chrono_literals;

TEST_SUITE("events") {

TEST_CASE("a silent connection is closed after --idle-timeout") {
    ServerProcess server({{"--idle-timeout", "300"}});
    Client never_spoke(server.port()), spoke_once(server.port());
    REQUIRE(spoke_once.send(get("/hello")));
    CHECK(spoke_once.read_reply().status == 200);
    CHECK(never_spoke.closed_by_server());  // within the client's 5 s patience, not the default 60 s
    CHECK(spoke_once.closed_by_server());
}

TEST_CASE("a head trickled too slowly gets 408 at --header-timeout") {
    ServerProcess server({{"--header-timeout", "400", "--idle-timeout", "60000"}});
    Client slow(server.port());
    std::string head = get("/hello");
    Reply reply;
    // One byte every 50 ms keeps the connection busy, but the head is due 400 ms after its first byte.
    for (size_t i = 0; i + 1 < head.size() && slow.send(head.substr(i, 1)); ++i) std::this_thread::sleep_for(50ms);
    reply = slow.read_reply();
    CHECK(reply.status == 408);
    CHECK(slow.closed_by_server());
    CHECK(exchange(server.port(), get("/hello")).status == 200);
}

TEST_CASE("slow clients do not delay a normal one") {
    ServerProcess server({{"--header-timeout", "5000"}});
    std::vector<std::unique_ptr<Client>> slow;
    for (int i = 0; i < 50; ++i) {
        slow.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(slow.back()->send("GET /hello HTTP/1.1\r\nHo"));  // and then nothing, for now
    }
    Client normal(server.port(), 1000);  // a one-second patience: a blocked loop would fail this
    for (int i = 0; i < 20; ++i) {
        REQUIRE(normal.send(get("/hello")));
        CHECK(normal.read_reply().body == "Hello, World!");
    }
    for (auto& s : slow) REQUIRE(s->send("st: t\r\n\r\n"));
    for (auto& s : slow) CHECK(s->read_reply().body == "Hello, World!");
}

TEST_CASE("slowloris: 200 clients that never finish their heads are cut off, and others are served meanwhile") {
    ServerProcess server({{"--header-timeout", "1000"}});
    long fds_before = server.steady_fds();
    std::vector<std::unique_ptr<Client>> slow;
    for (int i = 0; i < 200; ++i) {
        slow.push_back(std::make_unique<Client>(server.port(), 3000));
        REQUIRE(slow.back()->send("GET /hello HTTP/1.1\r\nHost: t\r\n"));
    }
    std::atomic<bool> done{false};
    std::thread trickle([&] {  // a header line from each, every 100 ms: busy, but never done
        for (int round = 0; round < 30 && !done; ++round, std::this_thread::sleep_for(100ms))
            for (auto& s : slow) s->send("X-Slow: still here\r\n");  // fails harmlessly once cut off
    });
    Client normal(server.port(), 1000);
    for (int i = 0; i < 20; ++i) {
        REQUIRE(normal.send(get("/hello")));
        CHECK(normal.read_reply().body == "Hello, World!");
    }
    std::this_thread::sleep_for(1500ms);  // past the header timeout
    done = true;
    trickle.join();
    int cut_off = 0;
    for (auto& s : slow) {
        std::string got;  // a 408, or nothing if the reset that answered a late header line came first
        cut_off += s->read_to_close(got) && (got.empty() || got.rfind("HTTP/1.1 408 ", 0) == 0);
    }
    CHECK(cut_off == 200);
    normal.reset();
    slow.clear();
    for (int i = 0; i < 250 && server.open_fds() > fds_before; ++i) std::this_thread::sleep_for(20ms);
    CHECK(server.open_fds() == fds_before);
}

TEST_CASE("a client that pipelines without pause does not starve the others") {
    // Edge-triggered, a loop that reads "until EAGAIN" never gets there with this client: the
    // connection must be put aside after its share and the others served (chapter 05's --edge).
    ServerProcess server;
    Client greedy(server.port());
    // Big requests with small answers that take a moment of CPU each: the client sends faster
    // than the server can read, so the server never finds the socket empty nor its output full.
    std::string batch, big = get("/cpu?n=200000", "X-Pad: " + std::string(8000, 'p') + "\r\n");
    for (int i = 0; i < 50; ++i) batch += big;
    std::atomic<bool> done{false};
    std::thread sender([&] {
        while (!done && greedy.send(batch)) {
        }
    });
    std::thread reader([&] {  // reads and drops the answers, so the greedy client is never held back
        // Through the Client, not ::recv on its socket: over TLS the socket carries ciphertext.
        while (!done && greedy.discard_some(64 * 1024) > 0) {
        }
    });
    std::this_thread::sleep_for(200ms);
    Client normal(server.port(), 1000);  // a loop stuck on the greedy client would fail this patience
    for (int i = 0; i < 20; ++i) {
        REQUIRE(normal.send(get("/hello")));
        CHECK(normal.read_reply().body == "Hello, World!");
    }
    done = true;
    ::shutdown(greedy.fd(), SHUT_RDWR);  // wakes both threads
    sender.join();
    reader.join();
}

TEST_CASE("beyond --max-connections a client gets 503 and a close") {
    ServerProcess server({{"--max-connections", "5"}});
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 5; ++i) {
        held.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(held.back()->send(get("/hello")));
        REQUIRE(held.back()->read_reply().status == 200);
    }
    Client extra(server.port());
    REQUIRE(extra.send(get("/hello")));
    CHECK(extra.read_reply().status == 503);
    CHECK(extra.closed_by_server());
    held.pop_back();
    Reply again;
    int refused_again = 0;  // retries that came before the server noticed the close: refused too
    for (int i = 0; i < 50 && again.status != 200; ++i) {  // the server notices the close on its next turn
        std::this_thread::sleep_for(20ms);
        again = exchange(server.port(), get("/hello"));
        refused_again += again.status == 503;
    }
    CHECK(again.status == 200);
    CHECK(server.log().find("at --max-connections") != std::string::npos);
    held.clear();
    Reply status;
    for (int i = 0; i < 50 && status.status != 200; ++i) {  // `again` may still hold the last place a moment
        if (i) std::this_thread::sleep_for(20ms);
        status = exchange(server.port(), get("/status?format=json"));
        refused_again += status.status == 503;
    }
    std::optional<Json> page = parse_json(status.body);
    REQUIRE(page);
    CHECK(page->number_at({"total", "refused", "503_max_connections"}) == 1 + refused_again);  // under its reason
}

TEST_CASE("out of descriptors the server keeps serving without spinning and recovers") {
    // 64 descriptors, and a connection limit the descriptors run out before: accept() hits EMFILE.
    ServerProcess server({{"--max-connections", "1000"}, 64});
    std::vector<std::unique_ptr<Client>> held;
    for (int i = 0; i < 80; ++i) {
        held.push_back(std::make_unique<Client>(server.port()));
        REQUIRE(held.back()->send(get("/hello")));
    }
    // The first ~60 are answered; the rest wait in the kernel's accept queue.
    int answered = 0;
    for (int i = 0; i < 40; ++i) answered += held[i]->read_reply().status == 200;
    CHECK(answered == 40);
    double before = server.cpu_seconds();
    std::this_thread::sleep_for(1s);
    double busy = server.cpu_seconds() - before;
    CAPTURE(busy);
    CHECK(busy < 0.3);  // a loop retrying accept() at once would burn the whole second
    REQUIRE(held[0]->send(get("/hello")));
    CHECK(held[0]->read_reply().body == "Hello, World!");  // the connections it has are still served
    held.erase(held.begin(), held.begin() + 40);            // free descriptors...
    for (auto& c : held) CHECK(c->read_reply().status == 200);  // ...and the waiting clients get in
    CHECK(server.log().find("out of file descriptors") != std::string::npos);
    REQUIRE(held.back()->send(get("/status?format=json")));
    std::optional<Json> page = parse_json(held.back()->read_reply().body);
    REQUIRE(page);
    CHECK(page->number_at({"total", "refused", "accept_out_of_descriptors"}) >= 1);  // each failed accept, counted
}

TEST_CASE("a client that never reads cannot make the server buffer without bound") {
    ServerProcess server;
    server.steady_fds();  // every worker started (chapter 06), so its start-up is not counted as growth
    REQUIRE(exchange(server.port(), get("/hello")).status == 200);
    long before = server.rss_kib();
    Client greedy(server.port(), 2000);
    std::string body(64 * 1024, 'x');
    std::string one = request("POST", "/echo", "", body);
    std::thread sender([&] {
        for (int i = 0; i < 1600; ++i)  // 100 MiB of requests, each answered by 64 KiB
            if (!greedy.send(one)) break;  // gives up once the server stops reading and the send times out
    });
    std::this_thread::sleep_for(1500ms);
    long grown = server.rss_kib() - before;
    CAPTURE(grown);
    // A bounded server holds a few hundred KiB of queued output (a few MiB more under a sanitizer,
    // whose allocator keeps freed blocks in quarantine); an unbounded one holds the 100 MiB.
    CHECK(grown < 16 * 1024 * kMemorySlack);
    CHECK(exchange(server.port(), get("/hello")).body == "Hello, World!");
    sender.join();  // the sender gives up once a send has been stuck for 2 s
    greedy.reset();
}

}  // TEST_SUITE
