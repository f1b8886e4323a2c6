// syscall-cost: what one system call's entry and exit cost on this machine, and nothing else.
// getppid does almost no work inside the kernel and is not answered in user space (the vDSO answers
// clock_gettime and a few others without entering), so a loop of it measures the crossing itself,
// with whatever the running kernel adds to every crossing (Spectre and Meltdown mitigations above
// all). Chapter 10's lab multiplies it by an epoll loop's calls per request: what a loop that made
// no system calls would save directly. The true cost is somewhat higher: a tight loop keeps the
// caches and branch predictors warm, where a server's crossings find them cooled by its work.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

static double ns_per_call(int calls) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) syscall(SYS_getppid);  // glibc's getppid() is one call too; spelled out to be sure
    std::chrono::duration<double, std::nano> spent = std::chrono::steady_clock::now() - start;
    return spent.count() / calls;
}

int main(int argc, char** argv) {
    CLI::App cli{"What one system call's entry and exit cost here: rounds of getppid, the median printed first, in ns."};
    int calls = 1'000'000, rounds = 5;
    cli.add_option("--calls", calls, "calls per round")->capture_default_str()->check(CLI::Range(1000, 100'000'000));
    cli.add_option("--rounds", rounds, "rounds (the median is printed)")->capture_default_str()->check(CLI::Range(1, 101));
    CLI11_PARSE(cli, argc, argv);

    std::vector<double> each;
    for (int r = 0; r < rounds; ++r) each.push_back(ns_per_call(calls));
    std::sort(each.begin(), each.end());
    std::printf("%.0f ns per system call (getppid; median of %d rounds of %d calls, %.0f-%.0f)\n",
                each[each.size() / 2], rounds, calls, each.front(), each.back());
}
