// Chapter 07: sendfile. Chapter 06's master and SO_REUSEPORT workers, each running chapter 05's
// epoll loop, now also serve the files under --root. A file's bytes go from the page cache to the
// socket inside the kernel, with sendfile(2), and never through a buffer of ours
// (common/send_file.cpp); --copy sends the same bytes the long way, pread into a buffer and send,
// to measure what sendfile saves. A path is opened beneath the root with openat2 and
// RESOLVE_BENEATH (common/open_beneath.cpp), so no request, symlink or race can read outside it.
// What a file answer says (Last-Modified, 304, Range and 206) is in common/static_files.cpp.
#include "file_server.hpp"

using namespace one;

int main(int argc, char** argv) {
    CLI::App cli{"07-sendfile: 06's master and epoll workers, serving files with sendfile"};
    ServerOptions options;
    EventOptions events;
    WorkerOptions workers;
    bool copy = false;
    std::string root;
    add_server_options(cli, options, 8007);
    add_event_options(cli, events);
    add_worker_options(cli, workers);
    auto* root_option = cli.add_option("--root", root, "serve the files under this directory (paths that are not routes)");
    cli.add_flag("--copy", copy, "send files through a user-space buffer (pread, then send) instead of sendfile")->needs(root_option);
    CLI11_PARSE(cli, argc, argv);
    FileServing serving{.root = *root_option ? std::optional(root) : std::nullopt, .copy = copy, .sent_with = {}};

    return run_server([&] {
        serve_files(options, events, workers, serving, "07-sendfile",
                    "Chapter 06's master and epoll workers, sending files from the page cache with sendfile.");
    });
}
