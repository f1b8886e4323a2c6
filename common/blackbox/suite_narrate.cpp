// The shared black-box suite, part 7: --narrate tells one request's story, the way the chapter's
// model lives it, and says nothing without the flag.
//
// The story is the chapter's own: chapters/NN-name/narration holds it as patterns, one per line of
// narration, in order (other lines may come between). A pattern is an fnmatch(3) glob: * stands for
// anything (fd numbers, pids), and ? and [ are special too, so "/sleep?ms=1" matches loosely.
//
//     request /hello                   what the one client asks, on a fresh connection
//     root chapters/07-sendfile        (optional) --root for a chapter that must serve a file
//     epoll_wait -> 1 ready: fd * (the listener) readable
//     accept -> fd *
//     ...
#include "harness.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fnmatch.h>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

using namespace one::test;

namespace {

struct Story {
    std::string request = "/hello";
    std::string root;
    std::vector<std::string> patterns;
};

// Read from the repository's root, where the test runner starts (as for --root chapters/09-proxy).
bool read_story(const std::string& path, Story& story) {
    std::ifstream in(path);
    if (!in) return false;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("request ", 0) == 0) story.request = line.substr(8);
        else if (line.rfind("root ", 0) == 0) story.root = line.substr(5);
        else story.patterns.push_back("*" + line + "*");
    }
    return !story.patterns.empty();
}

// How many of `patterns` match lines of `log` in order, each on a later line than the one before.
size_t matched_in_order(const std::string& log, const std::vector<std::string>& patterns) {
    std::istringstream lines(log);
    size_t done = 0;
    for (std::string line; done < patterns.size() && std::getline(lines, line);)
        if (::fnmatch(patterns[done].c_str(), line.c_str(), 0) == 0) ++done;
    return done;
}

}  // namespace

TEST_SUITE("narrate") {

TEST_CASE("--narrate tells one request's story as the chapter's narration file says, in order") {
    std::string path = "chapters/" + chapter_name() + "/narration";
    Story story;
    REQUIRE_MESSAGE(read_story(path, story), "cannot read " << path << " (the tests run from the repository's root)");
    ServerSpec spec{{"--narrate"}};
    // A variant's run may have given --root already (CLI11 takes an option once).
    bool has_root = std::find(server_args().begin(), server_args().end(), "--root") != server_args().end();
    if (!story.root.empty() && !has_root) spec.args.insert(spec.args.end(), {"--root", story.root});
    ServerProcess server(spec);
    auto client = std::make_unique<Client>(server.port());
    REQUIRE(client->send(get(story.request)));
    CHECK(client->read_reply().status == 200);
    // The last lines (a write's result) are told after the client has its answer: wait for them.
    std::string log;
    auto told_within = [&](int ms) {
        for (int waited = 0; waited < ms; waited += 10) {
            log = server.log();
            if (matched_in_order(log, story.patterns) == story.patterns.size()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    };
    // The connection stays open meanwhile: closed at once, its end could be read in the same turn
    // as the write (05 --edge reads on until EAGAIN), and the "idle" line would never be told. A
    // story that goes on after the close (01 accepting the next client) is told once it has gone.
    if (!told_within(1000)) {
        client.reset();
        told_within(3000);
    }
    size_t matched = matched_in_order(log, story.patterns);
    INFO(log);
    INFO("the first line not found after the ones before it: " << (matched < story.patterns.size() ? story.patterns[matched] : "(none)"));
    CHECK(matched == story.patterns.size());
}

TEST_CASE("without --narrate the server says nothing per request") {
    ServerProcess server;
    for (int i = 0; i < 3; ++i) CHECK(exchange(server.port(), get("/hello")).status == 200);
    std::string log = server.log();
    INFO(log);
    CHECK(log.find(" us  ") == std::string::npos);  // what every narrated line has after its time
}

}  // TEST_SUITE
