// harness: what black-box tests need to drive a chapter's binary from outside: start it on an
// ephemeral port, talk HTTP to it over real sockets, look at it through /proc, and stop it.
#pragma once

#include "common/sys.hpp"
#include "tls_client.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace one::test {

// Built with a sanitizer (the tests and the servers are built alike)? Its shadow memory and
// allocator make a process use several times the memory: bounds on growth scale by kMemorySlack,
// which keeps them far below what a server that really hoarded would use under the same sanitizer.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
inline constexpr long kMemorySlack = 4;
#else
inline constexpr bool kSanitized = false;
inline constexpr long kMemorySlack = 1;
#endif

// The binary under test, from --server on the test's command line.
const std::string& server_binary();
void set_server_binary(std::string path);
// Options given to every server the tests start (--server-arg, repeatable): "--edge" runs the
// whole suite against chapter 05's edge-triggered mode.
void add_server_arg(std::string arg);
const std::vector<std::string>& server_args();
// "01-blocking", from the binary's file name.
std::string chapter_name();
// True when `text` is what a person can read: no control bytes but newline and tab (a CLI11 check
// on an enum once printed its values as raw bytes).
bool printable(const std::string& text);

class Client;

// Chapter 09: the servers the binary under test stands in front of. With --backend "BINARY ARGS..."
// on the test's command line, every server a test starts gets a backend of its own, started
// first, and is told --upstream 127.0.0.1:PORT.
void set_backend_command(std::string command);
bool has_backend();  // was --backend given?

// Where the server under test listens and the clients connect: 127.0.0.1 unless the runner was
// given --host (::1 runs the suite over IPv6). Backends stay on 127.0.0.1.
void set_server_host(std::string host);
const std::string& server_host();

struct ServerSpec {
    std::vector<std::string> args;  // beyond --host 127.0.0.1 (or server_host()) --port 0
    long fd_limit = 0;              // RLIMIT_NOFILE for the server; 0 leaves it alone
    long address_space = 0;         // RLIMIT_AS in bytes; 0 leaves it alone
    std::string binary = {};        // empty: the binary under test, with every --server-arg
    std::string host = {};          // --host; empty: server_host()
    // A TLS run, the binary under test: --tls-cert DIR/ecdsa.pem --tls-key DIR/ecdsa.key come
    // first, the default identity (a test's own --tls-cert pairs follow it). Backends never get them.
    bool tls_identity = true;
    bool plain_port = false;  // chapter 11: --plain-port 0 as well; plain_port() is where it listens
};

// A server started for one test. The destructor fails the test if the server died on its own or a
// sanitizer reported something in its log, then stops it (SIGTERM, then SIGKILL) and reaps it.
class ServerProcess {
public:
    explicit ServerProcess(ServerSpec spec = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    int port() const { return port_; }               // the port under test: TLS, or in a --plain-port run the plain one
    int plain_port() const { return plain_port_; }   // with spec.plain_port or in a --plain-port run; else 0
    const std::string& listening() const { return listening_; }  // "listening on ...", or in a --plain-port run "plain HTTP on ..."
    pid_t pid() const { return pid_; }
    bool alive() const;
    // What /proc says, summed over the server and its child processes (chapter 06's workers), so
    // that a multi-process server cannot pass a test by holding its connections in a child.
    long rss_kib() const;     // VmRSS
    // RssAnon: the memory a server could fill with a client's bytes (heap, anonymous maps), not
    // the library code a worker faults in the first time it takes a path (hundreds of KiB).
    long anon_kib() const;
    long vm_kib() const;      // VmSize: address space, stacks included whether touched or not
    long threads() const;     // Threads
    long open_fds() const;    // entries in /proc/PID/fd; -1 once the server has exited
    // open_fds() once the count has held still for 200 ms (up to 5 s): a baseline to compare with
    // after a test, taken when workers that are still starting have opened what they open.
    long steady_fds() const;
    double cpu_seconds() const;  // user + system time so far
    std::string log() const;  // everything it wrote to stderr so far
    // Waits up to `timeout_ms` for the server to exit, as a test that stopped it expects; returns
    // its wait status, or -1 if it is still running. The destructor then does not complain.
    int wait_exit(int timeout_ms);
    std::vector<pid_t> children() const;  // its child processes (chapter 06's workers)
    // The descriptor number under which the server (or one of its workers) holds the other end of
    // `client`'s connection, from /proc/net/tcp and /proc/PID/fd; -1 when it holds none (closed).
    int fd_of(const Client& client) const;

private:
    std::vector<pid_t> tree() const;  // the server, then its children
    long tree_sum(const std::function<long(pid_t)>& of_one) const;
    pid_t pid_ = -1;
    mutable bool exited_ = false;  // reaped by alive(); the status is in exit_status_
    mutable int exit_status_ = 0;
    bool exit_expected_ = false;
    int port_ = 0;
    int plain_port_ = 0;
    std::string listening_;
    std::string log_path_;
    std::unique_ptr<ServerProcess> backend_;  // --backend: stopped after this server
};

// A parsed response, as a client sees it.
struct Reply {
    int status = 0;
    std::string version;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string header(std::string_view name) const;  // first match, any case; "" when absent
};

// One TCP connection to the server, with blocking I/O bounded by a timeout so no test can hang.
// In a TLS run (tls_run()) it speaks TLS unless told otherwise; every method means the same over
// TLS as over plain TCP, in plaintext, and fd() is the socket, which then carries ciphertext.
class Client {
public:
    explicit Client(int port, int timeout_ms = 5000, const std::string& host = {});  // host: server_host()
    Client(int port, const TlsOptions& tls, int timeout_ms = 5000, const std::string& host = {});
    ~Client();  // over TLS, unless the connection broke: one close_notify, then the close
    Client(Client&& other) noexcept;
    Client& operator=(Client&& other) noexcept;
    int fd() const { return fd_.get(); }
    // Connected and, over TLS, the handshake done (when the options asked for it).
    bool connected() const { return static_cast<bool>(fd_) && ready_; }

    // Sends every byte; false if the server closed or reset the connection first.
    bool send(std::string_view bytes);
    // Reads one response (for a HEAD request pass head=true: it has no body), its body framed by
    // Content-Length, chunked, or the connection's end. A 1xx is a response of its own. Fails the
    // test and returns status 0 on timeout, on a closed connection or on a response it cannot frame.
    Reply read_reply(bool head = false);
    // True if the server closes the connection (EOF or reset) within the timeout, with no bytes first.
    bool closed_by_server();
    // Reads until the server closes the connection (EOF or reset); true if it did within the timeout.
    // `got` is every byte that arrived first. Unlike read_reply(), nothing here fails the test.
    bool read_to_close(std::string& got);
    // Reads and drops up to `max` bytes: how many (> 0), 0 once the stream has ended, -1 on timeout.
    long discard_some(size_t max);
    // Shuts down the sending side, as a client does after its last request (half-close; over TLS
    // a close_notify first).
    void shutdown_write();
    // Closes with a reset (RST) instead of an orderly FIN, as a crashed or impatient client does;
    // over TLS without close_notify.
    void reset();
    // True if any byte from the server is waiting to be read, without reading it.
    bool has_bytes();
    // This end's port, to find the connection in /proc/net/tcp.
    int local_port() const;
    // How the server's stream ended, once a read has seen it end.
    Ending ending() const { return ending_; }

    // TLS only.
    bool tls() const { return static_cast<bool>(tls_); }
    bool handshake();       // the whole handshake within the timeout; false: tls_failure() says why
    TlsFailure tls_failure() const;
    TlsInfo tls_info() const;
    // The newest resumable session the server gave. TLS 1.3 sends it after the handshake: read a
    // reply first.
    std::shared_ptr<TlsSession> tls_session();
    void close_notify();    // one closing alert now; reading goes on

private:
    long receive(std::span<char> into, int timeout_ms);  // > 0 bytes, 0 ended (ending_ says how), -1 timeout
    bool fill();  // reads more into pending_; false on EOF, error or timeout
    bool read_chunked(std::string& body);
    Fd fd_;
    std::string pending_;
    int timeout_ms_;
    std::unique_ptr<TlsWire> tls_;  // null: plain TCP
    bool ready_ = true;             // the handshake is done, or was not asked for
    Ending ending_ = Ending::Open;
};

// A request line, a Host header and the extra header lines given ("Name: value\r\n" each).
std::string request(std::string_view method, std::string_view target, std::string_view extra = "",
                    std::string_view body = "");
std::string get(std::string_view target, std::string_view extra = "");

// Opens a connection, sends `bytes`, reads one reply.
Reply exchange(int port, std::string_view bytes, bool head = false);

// Runs the binary under test with `args` (a shell word list; stdin closed, stderr folded into
// stdout), for flags and start-up messages. A binary that wrongly starts serving is ended after
// 10 s (exit 124). Returns its exit code (-1 if a signal ended it) and puts what it printed in `output`.
// In a TLS run the default identity comes before `args` (see ServerSpec::tls_identity): chapter
// 11 requires one, and without it every other mistake would be reported as that one.
int run_binary(const std::string& args, std::string& output, bool tls_identity = true);

// Runs the binary under test as run_binary() does, under a seccomp filter that fails the system
// call numbered `syscall` with `error`, or only those calls whose first argument is `first_arg`
// when it is given: how a container's profile refuses io_uring_setup, or a kernel without IPv6
// refuses socket(AF_INET6, ...). Chapter 09 is given an --upstream it never reaches; in a TLS run
// the default identity comes first, as for run_binary().
int run_binary_refused(long syscall, int error, const std::string& args, std::string& output, long first_arg = -1);

}  // namespace one::test
