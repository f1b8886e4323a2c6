// The black-box test runner:
//   blackbox --server build/bin/05-epoll [--server-arg --edge]... [--skip-file F] [--backend "BIN ARGS"]
//            [--host ::1] [--tls-dir DIR [--plain-port]] [doctest options]
// A skip file lists the suite's tests a chapter's model cannot pass, one per line, as
// "test case name: the reason" (or "suite NAME: the reason" for a whole test suite); each skip is
// printed with its reason, never silently dropped. --tls-dir makes it a TLS run (chapter 11): the
// clients speak TLS, trusting DIR/ca.pem, and the servers get DIR/ecdsa.pem and .key; with
// --plain-port the servers get them too, but the clients talk plain HTTP to the server's plain port.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "harness.hpp"

#include "common/sys.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<char*> rest;
    std::string skip_file;
    for (int i = 0; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--server" && i + 1 < argc) one::test::set_server_binary(argv[++i]);
        else if (arg == "--server-arg" && i + 1 < argc) one::test::add_server_arg(argv[++i]);
        else if (arg == "--skip-file" && i + 1 < argc) skip_file = argv[++i];
        else if (arg == "--backend" && i + 1 < argc) one::test::set_backend_command(argv[++i]);
        else if (arg == "--host" && i + 1 < argc) one::test::set_server_host(argv[++i]);
        else if (arg == "--tls-dir" && i + 1 < argc) one::test::set_tls_dir(argv[++i]);
        else if (arg == "--plain-port") one::test::set_plain_port_run(true);
        else rest.push_back(argv[i]);
    }
    if (one::test::server_binary().empty()) {
        std::fprintf(stderr, "usage: %s --server PATH [--server-arg ARG]... [--skip-file FILE] [--backend \"PATH ARG...\"] [--host ADDRESS] [--tls-dir DIR [--plain-port]] [doctest options]\n", argv[0]);
        return 2;
    }
    if (one::test::plain_port_run() && !one::test::tls_dir_given()) {
        std::fprintf(stderr, "--plain-port tests a TLS server's plain port: it needs --tls-dir DIR for the server's certificate\n");
        return 2;
    }
    doctest::Context context;
    context.applyCommandLine(static_cast<int>(rest.size()), rest.data());
    std::ifstream skips(skip_file);
    if (!skip_file.empty() && !skips) {
        std::fprintf(stderr, "cannot read skip file %s\n", skip_file.c_str());
        return 2;
    }
    for (std::string line; std::getline(skips, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::string name = line.substr(0, line.find(':'));
        std::printf("[%s] skipping \"%s\" -%s\n", one::test::chapter_name().c_str(), name.c_str(),
                    line.substr(name.size() + 1).c_str());
        if (name.find(',') != std::string::npos) {  // doctest splits its filters on commas
            std::fprintf(stderr, "%s: a skipped name cannot hold a comma: %s\n", skip_file.c_str(), name.c_str());
            return 2;
        }
        if (name.rfind("suite ", 0) == 0) context.addFilter("test-suite-exclude", name.substr(6).c_str());
        else context.addFilter("test-case-exclude", name.c_str());
    }
    // OpenSSL's socket BIO writes with write(), not send(MSG_NOSIGNAL) as the plain client does:
    // without this, the first server that closes during a TLS send would kill the runner.
    one::ignore_sigpipe();
    return context.run();
}
