// status: the gauges move one connection at a time, refusals land under their reason, and worker
// processes forked after share_between() count into slots their parent can read.
#include "common/status.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

using namespace one;

namespace {

int64_t in_state(status::State s) { return status::mine().in_state[static_cast<int>(s)].load(); }
uint64_t refused(status::Refusal r) { return status::mine().refused[static_cast<int>(r)].load(); }

}  // namespace

TEST_CASE("a connection is counted in one state at a time, and in none once it has gone") {
    int64_t idle = in_state(status::State::Idle), writing = in_state(status::State::Writing);
    {
        status::CountedConnection c;
        CHECK(in_state(status::State::Idle) == idle + 1);
        c.now(status::State::Writing);
        c.now(status::State::Writing);  // no change: counted once
        CHECK(in_state(status::State::Idle) == idle);
        CHECK(in_state(status::State::Writing) == writing + 1);
    }
    CHECK(in_state(status::State::Writing) == writing);
    CHECK(in_state(status::State::Idle) == idle);
}

TEST_CASE("each error status is counted under its own reason; a 503 only by refuse_busy's") {
    uint64_t bad = refused(status::Refusal::BadRequest), big = refused(status::Refusal::HeadersTooLarge);
    uint64_t other = refused(status::Refusal::Other);
    status::count_refusal_status(400);
    status::count_refusal_status(431);
    status::count_refusal_status(431);
    status::count_refusal_status(503);
    status::count_refusal_status(502);
    CHECK(refused(status::Refusal::BadRequest) == bad + 1);
    CHECK(refused(status::Refusal::HeadersTooLarge) == big + 2);
    CHECK(refused(status::Refusal::Other) == other + 1);
}

TEST_CASE("the page of a single process has its counters in text and JSON, and no worker list") {
    status::add(status::mine().requests, 3);
    std::string text = status::render("05-epoll", "one thread", false);
    CHECK(text.rfind("one-loop 05-epoll: one thread\n", 0) == 0);
    CHECK(text.find("\nrequests     ") != std::string::npos);
    CHECK(text.find("\nworker ") == std::string::npos);
    std::string json = status::render("05-epoll", "say \"hi\"", true);
    CHECK(json.find("\"model\":\"say \\\"hi\\\"\"") != std::string::npos);
    CHECK(json.find("\"workers\":[]}") != std::string::npos);
    CHECK(json.find("\"refused\":{\"503_fd_setsize\":") != std::string::npos);
}

TEST_CASE("workers forked after share_between count into slots the master sums, and an ended one's counts stay") {
    // In a child process, so that this process keeps counting into its own slot for the other tests.
    pid_t master = fork();
    REQUIRE(master >= 0);
    if (master == 0) {
        status::share_between(2);
        int first = status::claim_slot(1);
        pid_t worker = fork();
        if (worker == 0) {
            status::count_as_worker(first);
            status::add(status::mine().requests, 5);
            status::CountedConnection open;  // left open: counted as idle until its process ends
            _exit(0);
        }
        status::assign_slot(first, worker);
        int ignored;
        waitpid(worker, &ignored, 0);
        std::string before_reaped = status::render("06-reuseport", "workers", true);
        status::process_ended(worker, true);  // died: its worker number restarts once
        int second = status::claim_slot(1);
        status::count_as_worker(second);       // this process plays the restarted worker 1
        status::add(status::mine().requests, 2);
        std::string json = status::render("06-reuseport", "workers", true);
        bool ok = before_reaped.find("\"open\":1,") != std::string::npos &&
                  json.find("\"total\":{\"connections\":{\"open\":0,") != std::string::npos &&
                  json.find("\"requests\":7,") != std::string::npos &&  // 5 from the ended one, 2 from this one
                  json.find("\"workers\":[{\"worker\":1,\"pid\":" + std::to_string(getpid()) + ",\"restarts\":1,") != std::string::npos &&
                  json.find("\"pid\":" + std::to_string(worker) + ",") == std::string::npos;  // the ended one is no longer listed
        if (!ok) std::fprintf(stderr, "%s\n%s", before_reaped.c_str(), json.c_str());
        _exit(ok ? 0 : 1);
    }
    int exit_status = 0;
    REQUIRE(waitpid(master, &exit_status, 0) == master);
    CHECK(WIFEXITED(exit_status));
    CHECK(WEXITSTATUS(exit_status) == 0);
}
