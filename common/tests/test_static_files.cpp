// Tests for static files' pieces: path checks, content types, dates, ranges, and the open beneath
// the root by both methods (openat2 where this kernel has it, and the component walk everywhere).
#include "common/open_beneath.hpp"
#include "common/static_files.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <system_error>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace one;
namespace fs = std::filesystem;

namespace {

// <tmp>/root with a file, a subdirectory, a FIFO and symlinks in and out; <tmp>/secret beside it.
struct Tree {
    fs::path base;
    Tree() {
        char name[] = "/tmp/one-loop-files-XXXXXX";
        REQUIRE(mkdtemp(name));
        base = name;
        fs::create_directories(base / "root/dir");
        std::ofstream(base / "root/file.txt") << "inside";
        std::ofstream(base / "root/dir/deep.txt") << "deeper";
        std::ofstream(base / "secret") << "outside";
        fs::create_symlink("file.txt", base / "root/link-in");
        fs::create_symlink("dir", base / "root/dir-link-in");
        fs::create_symlink("../secret", base / "root/link-out");
        fs::create_symlink("..", base / "root/up");
        fs::create_symlink(base / "secret", base / "root/link-abs");
        fs::create_symlink("/proc/self/root/etc/passwd", base / "root/via-proc");
        REQUIRE(mkfifo((base / "root/fifo").c_str(), 0644) == 0);
    }
    ~Tree() { fs::remove_all(base); }
    std::string root() const { return (base / "root").string(); }
};

// What open() found: the bytes, or the errno.
std::string read_beneath(const RootDir& root, const std::string& relative) {
    int err = 0;
    Fd fd = root.open(relative, err);
    if (!fd) return "errno " + std::to_string(err);
    char buf[64];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    return n < 0 ? "read errno " + std::to_string(errno) : std::string(buf, static_cast<size_t>(n));
}

bool openat2_here() {
    Tree tree;
    return RootDir(tree.root()).method() == Beneath::Openat2;
}

}  // namespace

TEST_SUITE("static files") {

TEST_CASE("request paths become paths relative to the root, or are refused") {
    struct Case {
        const char* path;
        PathCheck check;
        const char* relative;
    } cases[] = {
        {"/a.txt", PathCheck::Ok, "a.txt"},
        {"/docs/a%20b.txt", PathCheck::Ok, "docs/a b.txt"},
        {"//a///b/", PathCheck::Ok, "a/b"},
        {"/./a/./b", PathCheck::Ok, "a/b"},
        {"/a%2fb", PathCheck::Ok, "a/b"},
        {"/", PathCheck::Ok, ""},
        {"/...", PathCheck::Ok, "..."},
        {"/a..b/..c", PathCheck::Ok, "a..b/..c"},
        {"/%2525", PathCheck::Ok, "%25"},
        {"/..", PathCheck::Refused, ""},
        {"/a/../b", PathCheck::Refused, ""},
        {"/%2e%2E/x", PathCheck::Refused, ""},
        {"/..%2fx", PathCheck::Refused, ""},
        {"/a\\b", PathCheck::Refused, ""},
        {"/a%5cb", PathCheck::Refused, ""},
        {"/a%00b", PathCheck::Refused, ""},
        {"/%", PathCheck::Malformed, ""},
        {"/%4", PathCheck::Malformed, ""},
        {"/%g0", PathCheck::Malformed, ""},
        {"a.txt", PathCheck::Malformed, ""},
        {"", PathCheck::Malformed, ""},
    };
    for (const Case& c : cases) {
        std::string shown = c.path;
        CAPTURE(shown);
        std::string relative;
        CHECK(to_relative_path(c.path, relative) == c.check);
        if (c.check == PathCheck::Ok) CHECK(relative == c.relative);
    }
}

TEST_CASE("content types come from the extension, in any case") {
    CHECK(content_type_for("a/index.html") == "text/html; charset=utf-8");
    CHECK(content_type_for("x.CSS") == "text/css; charset=utf-8");
    CHECK(content_type_for("x.tar.gz") == "application/gzip");
    CHECK(content_type_for("x.woff2") == "font/woff2");
    CHECK(content_type_for("README") == "application/octet-stream");
    CHECK(content_type_for("dir.d/README") == "application/octet-stream");
    CHECK(content_type_for("x.") == "application/octet-stream");
}

TEST_CASE("HTTP dates: the three forms a recipient must accept, and nothing else") {
    time_t when = 0;
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", when));
    CHECK(when == 784111777);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", when));
    CHECK(when == 784111777);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994", when));
    CHECK(when == 784111777);
    CHECK(http::format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT+1", "784111777"}) {
        std::string shown = bad;
        CAPTURE(shown);
        CHECK_FALSE(parse_http_date(bad, when));
    }
}

TEST_CASE("a Range header against a file's size") {
    ByteRange r;
    CHECK(parse_range("bytes=0-0", 10, r) == RangeAnswer::Part);
    CHECK((r.first == 0 && r.length == 1));
    CHECK(parse_range("bytes=-3", 10, r) == RangeAnswer::Part);
    CHECK((r.first == 7 && r.length == 3));
    CHECK(parse_range("bytes=-30", 10, r) == RangeAnswer::Part);
    CHECK((r.first == 0 && r.length == 10));
    CHECK(parse_range("bytes=8-", 10, r) == RangeAnswer::Part);
    CHECK((r.first == 8 && r.length == 2));
    CHECK(parse_range("bytes=5-100", 10, r) == RangeAnswer::Part);
    CHECK((r.first == 5 && r.length == 5));
    CHECK(parse_range("bytes=9-9", 10, r) == RangeAnswer::Part);
    CHECK((r.first == 9 && r.length == 1));
    for (const char* none : {"bytes=10-", "bytes=10-20", "bytes=-0", "bytes=99999999999999999999-"}) {
        std::string shown = none;
        CAPTURE(shown);
        CHECK(parse_range(none, 10, r) == RangeAnswer::Unsatisfiable);
    }
    CHECK(parse_range("bytes=0-", 0, r) == RangeAnswer::Unsatisfiable);  // nothing in an empty file
    CHECK(parse_range("bytes=-1", 0, r) == RangeAnswer::Unsatisfiable);
    for (const char* whole : {"bytes=0-1,3-4", "bytes=x-1", "bytes=3-1", "bytes=", "bytes=-", "bytes=1-2-3", "bytes= 1-2",
                              "bytes=+1-2", "lines=1-2", "bytes"}) {
        std::string shown = whole;
        CAPTURE(shown);
        CHECK(parse_range(whole, 10, r) == RangeAnswer::Whole);
    }
}

TEST_CASE("a root that is missing or not a directory is a setup error") {
    Tree tree;
    CHECK_THROWS_AS(RootDir(tree.root() + "/nope"), std::system_error);
    CHECK_THROWS_AS(RootDir(tree.root() + "/file.txt"), std::system_error);
}

TEST_CASE("both ways of opening beneath the root refuse every way out") {
    Tree tree;
    std::vector<Beneath> methods = {Beneath::Walk};
    if (openat2_here()) methods.push_back(Beneath::Openat2);
    for (Beneath how : methods) {
        std::string method = describe(how);
        CAPTURE(method);
        RootDir root(tree.root(), how);
        CHECK(read_beneath(root, "file.txt") == "inside");
        CHECK(read_beneath(root, "dir/deep.txt") == "deeper");
        for (const char* out : {"link-out", "up/secret", "link-abs", "via-proc", "../secret", "dir/../../secret"}) {
            std::string path = out;
            CAPTURE(path);
            CHECK(read_beneath(root, out).rfind("errno", 0) == 0);
        }
        // A FIFO opens without waiting for a writer (and reads nothing): the server then refuses it.
        CHECK(read_beneath(root, "fifo") == "");
        // Symlinks that stay inside: the kernel's walk follows them; ours refuses every symlink.
        bool follows = how == Beneath::Openat2;
        CHECK((read_beneath(root, "link-in") == "inside") == follows);
        CHECK((read_beneath(root, "dir-link-in/deep.txt") == "deeper") == follows);
    }
}

TEST_CASE("the server's answers for files: status and headers") {
    Tree tree;
    StaticFiles files(tree.root());
    http::Request req;
    req.method = "GET";
    req.path = "/file.txt";
    http::Response r = files.serve(req);
    CHECK(r.status == 200);
    CHECK(r.file);
    CHECK(r.file.offset == 0);
    CHECK(r.file.length == 6);
    CHECK(http::content_length(r) == 6);
    req.path = "/fifo";
    CHECK(files.serve(req).status == 404);
    req.path = "/dir";
    CHECK(files.serve(req).status == 404);  // a directory without index.html
    req.path = "/../secret";
    CHECK(files.serve(req).status == 400);
}

}  // TEST_SUITE
