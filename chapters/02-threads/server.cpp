// Chapter 02: a thread per connection. The accept loop of chapter 01 no longer serves the client
// itself: it starts a thread that does, and goes straight back to accept(). Blocking calls are
// fine again, because each sleeps in its own thread. The price is one stack and one kernel task
// per client, and a scheduler that must choose among all of them.
#include "common/blocking_session.hpp"
#include "common/narrate.hpp"
#include "common/refuse.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <pthread.h>
#include <unistd.h>

using namespace one;

struct ClientJob {  // what a client thread needs; it owns the job and frees it
    Fd client;
    const App* app;
    const ServerOptions* options;
};

static void* serve_in_thread(void* arg) {
    std::unique_ptr<ClientJob> job(static_cast<ClientJob*>(arg));
    status::add_model(status::ModelNumber::ThreadsAlive, 1);
    if (narrate::on) narrate::set_speaker("thread " + std::to_string(gettid()));
    serve_blocking(std::move(job->client), *job->app, *job->options);
    status::add_model(status::ModelNumber::ThreadsAlive, -1);
    return nullptr;
}

// Starts a detached thread with a stack of `stack_size` bytes (0: the system default) to serve
// the client. Returns 0, or pthread_create's error with the client handed back in `client`.
static int start_client_thread(Fd& client, const App& app, const ServerOptions& options, size_t stack_size) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);  // nobody joins: the thread cleans up after itself
    if (stack_size) pthread_attr_setstacksize(&attr, stack_size);
    auto job = std::make_unique<ClientJob>(ClientJob{std::move(client), &app, &options});
    pthread_t thread;
    int err = pthread_create(&thread, &attr, serve_in_thread, job.get());
    pthread_attr_destroy(&attr);
    if (err == 0) job.release();  // the thread owns it now
    else client = std::move(job->client);
    return err;
}

int main(int argc, char** argv) {
    CLI::App cli{"02-threads: one thread per connection"};
    ServerOptions options;
    add_server_options(cli, options, 8002);
    size_t stack_size = 0;
    cli.add_option("--stack-size", stack_size, "stack per client thread, e.g. 64K or 8M (default: ulimit -s)")
        ->transform(CLI::AsSizeValue(false))
        ->check(CLI::Range(size_t{0}, size_t{1} << 40));
    CLI11_PARSE(cli, argc, argv);
    // A client thread keeps a parsed request (about 3.5 KiB) and read buffers on its stack; below
    // 64 KiB a hostile request could overflow it and take the whole process down.
    constexpr size_t kMinStack = 64 * 1024;
    if (stack_size != 0 && stack_size < kMinStack) {
        std::fprintf(stderr, "--stack-size: at least 64K (%zu bytes)\n", kMinStack);
        return 1;
    }

    int status = run_server([&] {
        Fd listener = listen_tcp(options.host, options.port);
        announce_listening(listener.get());
        App app("02-threads", "A thread per connection: each client gets a thread that may block as much as it likes.");
        BurstLog out_of_fds("accept: out of file descriptors, pausing");
        BurstLog no_thread("cannot start a thread, answering 503");
        status::set_model(status::ModelNumber::ThreadsAlive, 1);  // this one, which accepts
        if (narrate::on) narrate::set_speaker("main thread");

        for (;;) {
            int err = 0;
            Fd client = accept_client(listener.get(), err);
            if (!client) {
                after_accept_error(err, out_of_fds);
                continue;
            }
            out_of_fds.success();
            if (int fail = start_client_thread(client, app, options, stack_size)) {
                no_thread.failure(std::strerror(fail));  // EAGAIN: out of memory for stacks, or at a thread limit
                refuse_busy(std::move(client), status::Refusal::NoRoomThreads);
                continue;
            }
            no_thread.success();
        }
    });
    // Detached client threads may still be serving, using `app` and `options`: end the process
    // without running destructors under them.
    std::fflush(nullptr);
    std::_Exit(status);
}
