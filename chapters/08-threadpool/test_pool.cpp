// Chapter 08's pool and job, driven directly: the eventfd wake-ups merge, the queue has a limit,
// a stop waits for running jobs only up to its deadline, and a job's request owns its bytes.
#include "chapters/08-threadpool/handoff.hpp"
#include "chapters/08-threadpool/thread_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace one;
using namespace std::chrono_literals;

namespace {

// A gate the jobs wait at until the test opens it, so the test decides when they finish.
struct Gate {
    std::mutex mutex;
    std::condition_variable opened_cv;
    bool opened = false;
    void wait() {
        std::unique_lock lock(mutex);
        opened_cv.wait(lock, [this] { return opened; });
    }
    void open() {
        { std::lock_guard lock(mutex); opened = true; }
        opened_cv.notify_all();
    }
};

// What the eventfd holds now (its counter), read without blocking; 0 if it was not written.
uint64_t drain(int fd) {
    uint64_t count = 0;
    return ::read(fd, &count, sizeof count) == sizeof count ? count : 0;
}

template <typename Pool>
void await_finished(const Pool& pool, uint64_t n) {
    for (int i = 0; i < 500 && pool.counters().finished < n; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(pool.counters().finished == n);
}

}  // namespace

TEST_SUITE("08 thread pool") {

TEST_CASE("a hundred results finished together wake the loop once") {
    Gate gate;
    ThreadPool<int, int> pool(4, 1000, [&gate](int& n) { gate.wait(); return n * 2; });
    for (int i = 0; i < 100; ++i) REQUIRE(pool.submit(i));
    CHECK(drain(pool.wake_fd()) == 0);  // nothing finished yet: no wake-up
    gate.open();
    await_finished(pool, 100);
    CHECK(drain(pool.wake_fd()) == 1);  // one write for the whole batch...
    std::vector<int> done = pool.take_done();
    CHECK(done.size() == 100);           // ...and one take for all of it
    CHECK(pool.counters().wakeups == 1);
    long sum = 0;
    for (int d : done) sum += d;
    CHECK(sum == 2 * 4950);
    // The next result after a take wakes the loop again.
    int one_more = 7;
    REQUIRE(pool.submit(one_more));
    await_finished(pool, 101);
    CHECK(drain(pool.wake_fd()) == 1);
    CHECK(pool.take_done() == std::vector<int>{14});
    CHECK(pool.counters().wakeups == 2);
}

TEST_CASE("beyond the free threads and --queue waiting jobs, submit says no and leaves the work alone") {
    Gate gate;
    ThreadPool<std::string, std::string> pool(1, 2, [&gate](std::string& s) { gate.wait(); return s; });
    std::vector<std::string> work = {"a", "b", "c", "d"};
    CHECK(pool.submit(work[0]));  // the thread's
    CHECK(pool.submit(work[1]));  // waiting 1
    CHECK(pool.submit(work[2]));  // waiting 2
    CHECK_FALSE(pool.submit(work[3]));
    CHECK(work[3] == "d");  // not moved from: the caller still has it
    CHECK(pool.counters().refused == 1);
    gate.open();
    await_finished(pool, 3);
}

TEST_CASE("--queue 0: a job is taken only while a thread is free") {
    Gate gate;
    ThreadPool<int, int> pool(2, 0, [&gate](int& n) { gate.wait(); return n; });
    int a = 1, b = 2, c = 3;
    CHECK(pool.submit(a));
    CHECK(pool.submit(b));
    CHECK_FALSE(pool.submit(c));
    gate.open();
    await_finished(pool, 2);
}

TEST_CASE("stop drops waiting work, and gives up on a running job at its deadline") {
    Gate gate;
    std::atomic<int> ran{0};
    auto pool = std::make_unique<ThreadPool<int, int>>(1, 10, [&](int& n) { ++ran; gate.wait(); return n; });
    int first = 1, second = 2;
    REQUIRE(pool->submit(first));
    REQUIRE(pool->submit(second));
    for (int i = 0; i < 500 && pool->busy() == 0; ++i) std::this_thread::sleep_for(1ms);
    CHECK_FALSE(pool->stop(std::chrono::steady_clock::now() + 50ms));  // the first is still in its job
    CHECK(pool->waiting() == 0);                                       // the second was dropped
    int late = 3;
    CHECK_FALSE(pool->submit(late));  // stopped: nothing new
    gate.open();
    CHECK(pool->stop(std::chrono::steady_clock::now() + 5s));
    pool.reset();  // joins
    CHECK(ran == 1);
}

TEST_CASE("a job's request owns its bytes: the loop's buffer may be reused at once") {
    std::string buffer = "POST /echo?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Long-Header-Name: v\r\n\r\n"
                         "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    http::RequestParser parser;
    http::Request request;
    http::ParseResult r = parser.parse(buffer, request);
    REQUIRE(r.complete());
    OwnedRequest owned(request, std::span<const char>(buffer.data(), r.consumed));
    buffer.assign(buffer.size(), '#');  // the loop reads the next client's bytes into it
    const http::Request& copy = owned.request();
    CHECK(copy.method == "POST");
    CHECK(copy.path == "/echo");
    CHECK(copy.query == "x=1");
    CHECK(copy.host == "h");
    CHECK(copy.body == "abcde");  // decoded in place in the original: the copy has the decoded bytes
    CHECK(copy.header("X-Long-Header-Name") == "v");
    OwnedRequest moved = std::move(owned);  // a job moves into the queue and out again
    CHECK(moved.request().header("Host") == "h");
    CHECK(moved.request().body == "abcde");
}

}  // TEST_SUITE
