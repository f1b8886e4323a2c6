// harness: start a chapter's server, talk to it, watch it through /proc, stop it.
#include "harness.hpp"

#include "common/http_parser.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace one::test {
namespace {

std::string g_server_binary;
std::string g_host = "127.0.0.1";  // where the server under test listens and clients connect: --host
std::vector<std::string> g_server_args;
std::vector<std::string> g_backend;  // --backend: binary, then its options

// A /proc file's whole text, or less (down to nothing) if its process ends while it is read. Not
// with an ifstream: libstdc++'s filebuf throws when read() fails, and reading a process that has
// just died fails with ESRCH, so watching workers come and go would throw now and then.
std::string read_proc(const std::string& path) {
    std::string text;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return text;
    char chunk[4096];
    for (ssize_t got; (got = ::read(fd, chunk, sizeof chunk)) > 0 || (got < 0 && errno == EINTR);)
        if (got > 0) text.append(chunk, static_cast<size_t>(got));
    ::close(fd);
    return text;
}

// The fields of /proc/PID/stat from the third on (state, parent, ...; see proc(5)), so that fields[0]
// is field 3. They follow the command name, which may hold spaces and ")": hence the last ")".
// Empty once the process has gone.
std::vector<std::string> stat_fields(const std::string& pid) {
    std::string text = read_proc("/proc/" + pid + "/stat");
    size_t name_end = text.rfind(')');
    if (name_end == std::string::npos) return {};
    std::istringstream after(text.substr(name_end + 1));
    std::vector<std::string> fields;
    for (std::string field; after >> field;) fields.push_back(field);
    return fields;
}

// A field of /proc/PID/status such as "VmRSS:	  1234 kB", as a number; -1 if absent.
long status_field(pid_t pid, std::string_view field) {
    std::istringstream in(read_proc("/proc/" + std::to_string(pid) + "/status"));
    for (std::string line; std::getline(in, line);)
        if (line.compare(0, field.size(), field) == 0 && line[field.size()] == ':')
            return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    return -1;
}

// --plain-port runs: is `spec` the server under test, to be reached on its plain port?
bool tested_on_plain_port(const ServerSpec& spec) { return spec.binary.empty() && plain_port_run(); }

// The command line that starts `spec`'s server. Made before the fork, as everything the child
// needs: a child of a process with threads (a test's FakeBackend, a client thread) may only make
// async-signal-safe calls until it execs. malloc is not one: a lock another thread held at the
// fork stays held in the child for ever, and the server never starts (seen under ASan).
std::vector<std::string> server_command(const ServerSpec& spec) {
    // A backend (spec.binary) stays on IPv4: chapter 09's --upstream takes IPv4 addresses.
    std::string host = !spec.host.empty() ? spec.host : spec.binary.empty() ? g_host : "127.0.0.1";
    std::vector<std::string> words = {spec.binary.empty() ? g_server_binary : spec.binary, "--host", host, "--port", "0"};
    if (spec.binary.empty()) words.insert(words.end(), g_server_args.begin(), g_server_args.end());
    if (spec.binary.empty() && spec.tls_identity && tls_dir_given())
        words.insert(words.end(), {"--tls-cert", tls_file("ecdsa.pem"), "--tls-key", tls_file("ecdsa.key")});
    if (spec.plain_port || tested_on_plain_port(spec)) words.insert(words.end(), {"--plain-port", "0"});
    words.insert(words.end(), spec.args.begin(), spec.args.end());
    return words;
}

// In the child, between fork and exec: system calls only (see server_command).
[[noreturn]] void exec_server(const ServerSpec& spec, char* const* argv, int stdout_fd, int log_fd) {
    dup2(stdout_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    if (spec.fd_limit) {
        rlimit lim{static_cast<rlim_t>(spec.fd_limit), static_cast<rlim_t>(spec.fd_limit)};
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    if (spec.address_space) {
        rlimit lim{static_cast<rlim_t>(spec.address_space), static_cast<rlim_t>(spec.address_space)};
        setrlimit(RLIMIT_AS, &lim);
    }
    execv(argv[0], argv);
    static const char failed[] = "execv failed\n";
    (void)!::write(STDERR_FILENO, failed, sizeof failed - 1);
    _exit(127);
}

// Reads the server's first `count` lines within 10 s: "listening on 127.0.0.1:PORT" (or
// "[::1]:PORT"), then with --plain-port "plain HTTP on ...". Fewer if it printed fewer.
std::vector<std::string> read_lines(int stdout_fd, size_t count) {
    std::string text;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) < count && std::chrono::steady_clock::now() < give_up) {
        pollfd p{stdout_fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        char chunk[256];
        ssize_t n = read(stdout_fd, chunk, sizeof chunk);
        if (n <= 0) break;
        text.append(chunk, static_cast<size_t>(n));
    }
    std::vector<std::string> lines;
    for (size_t from = 0, lf; lines.size() < count && (lf = text.find('\n', from)) != std::string::npos; from = lf + 1)
        lines.push_back(text.substr(from, lf - from));
    return lines;
}

// PORT from "WORDS HOST:PORT", or 0 if `line` is not that.
int port_in(const std::string& line, const std::string& words) {
    size_t colon = line.rfind(':');
    return line.rfind(words + " ", 0) == 0 && colon != std::string::npos ? std::atoi(line.c_str() + colon + 1) : 0;
}

// In a TLS run, the flags that give the binary under test its default identity, and a space.
std::string tls_identity_flags() {
    return tls_dir_given() ? "--tls-cert " + tls_file("ecdsa.pem") + " --tls-key " + tls_file("ecdsa.key") + " " : "";
}

}  // namespace

const std::string& server_binary() { return g_server_binary; }
void set_server_binary(std::string path) { g_server_binary = std::move(path); }
void add_server_arg(std::string arg) { g_server_args.push_back(std::move(arg)); }
const std::vector<std::string>& server_args() { return g_server_args; }

bool printable(const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char ch) { return ch == '\n' || ch == '\t' || ch >= 32; });
}
void set_server_host(std::string host) { g_host = std::move(host); }
const std::string& server_host() { return g_host; }
bool has_backend() { return !g_backend.empty(); }

void set_backend_command(std::string command) {
    std::istringstream words(command);
    g_backend.clear();
    for (std::string word; words >> word;) g_backend.push_back(word);
}

std::string chapter_name() {
    size_t slash = g_server_binary.rfind('/');
    return slash == std::string::npos ? g_server_binary : g_server_binary.substr(slash + 1);
}

ServerProcess::ServerProcess(ServerSpec spec) {
    if (spec.binary.empty() && !g_backend.empty()) {
        ServerSpec backend{{g_backend.begin() + 1, g_backend.end()}, 0, 0, g_backend[0]};
        backend_ = std::make_unique<ServerProcess>(backend);
        spec.args.insert(spec.args.begin(), {"--upstream", "127.0.0.1:" + std::to_string(backend_->port())});
    }
    char log_template[] = "/tmp/one-loop-server-XXXXXX";
    int log_fd = mkstemp(log_template);
    if (log_fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(log_fd);
    log_path_ = log_template;
    std::vector<std::string> words = server_command(spec);
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    int log_out = ::open(log_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);  // dup2 gives the child a copy without CLOEXEC
    int out[2];
    if (log_out < 0 || pipe2(out, O_CLOEXEC) < 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) exec_server(spec, argv.data(), out[1], log_out);
    ::close(log_out);
    ::close(out[1]);
    bool plain_listens = spec.plain_port || tested_on_plain_port(spec);
    std::vector<std::string> lines = read_lines(out[0], plain_listens ? 2 : 1);
    ::close(out[0]);  // the servers ignore SIGPIPE, so later prints to stdout cannot hurt them
    if (lines.empty() || !(port_ = port_in(lines[0], "listening on"))) throw std::runtime_error("server did not print 'listening on': " + log());
    listening_ = lines[0];
    if (plain_listens && (lines.size() < 2 || !(plain_port_ = port_in(lines[1], "plain HTTP on"))))
        throw std::runtime_error("server did not print 'plain HTTP on': " + log());
    if (tested_on_plain_port(spec)) {
        port_ = plain_port_;
        listening_ = lines[1];
    }
}

ServerProcess::~ServerProcess() {
    if (pid_ <= 0) return;
    if (!alive() && !exit_expected_) FAIL_CHECK("the server exited during the test (wait status " << exit_status_ << "): " << log());
    std::string text = log();
    for (const char* report : {"AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:"})
        if (text.find(report) != std::string::npos) FAIL_CHECK("sanitizer report in the server's log:\n" << text);
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (alive()) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    unlink(log_path_.c_str());
}

bool ServerProcess::alive() const {
    if (!exited_ && waitpid(pid_, &exit_status_, WNOHANG) == pid_) exited_ = true;
    return !exited_;
}

int ServerProcess::wait_exit(int timeout_ms) {
    exit_expected_ = true;
    for (int waited = 0; alive() && waited < timeout_ms; waited += 10) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return alive() ? -1 : exit_status_;
}

std::vector<pid_t> ServerProcess::children() const {
    std::vector<pid_t> found;
    DIR* dir = opendir("/proc");
    while (dirent* entry = dir ? readdir(dir) : nullptr) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        std::vector<std::string> fields = stat_fields(entry->d_name);
        if (fields.size() < 2) continue;
        pid_t parent = std::atoi(fields[1].c_str());
        if (parent == pid_ && fields[0] != "Z") found.push_back(std::atoi(entry->d_name));
    }
    if (dir) closedir(dir);
    return found;
}

std::vector<pid_t> ServerProcess::tree() const {
    std::vector<pid_t> pids = children();
    pids.insert(pids.begin(), pid_);
    return pids;
}

long ServerProcess::tree_sum(const std::function<long(pid_t)>& of_one) const {
    long total = 0;
    for (pid_t pid : tree()) total += std::max(0L, of_one(pid));
    return total;
}

// The inode of the loopback socket with local port `local` and peer port `remote`, or 0. IPv6
// sockets are listed apart, in tcp6, with 32 hex digits for an address where tcp has 8.
static unsigned long tcp_inode(int local, int remote) {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            unsigned long inode = 0;
            unsigned local_port, remote_port;
            // "  sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt   uid  timeout inode"
            if (std::sscanf(line.c_str(), " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %*x %*x:%*x %*x:%*x %*x %*d %*d %lu",
                            &local_port, &remote_port, &inode) == 3 &&
                static_cast<int>(local_port) == local && static_cast<int>(remote_port) == remote)
                return inode;
        }
    }
    return 0;
}

int ServerProcess::fd_of(const Client& client) const {
    unsigned long inode = tcp_inode(port_, client.local_port());
    if (inode == 0) return -1;
    std::string wanted = "socket:[" + std::to_string(inode) + "]";
    for (pid_t pid : tree()) {
        std::string dir_path = "/proc/" + std::to_string(pid) + "/fd";
        DIR* dir = opendir(dir_path.c_str());
        while (dirent* entry = dir ? readdir(dir) : nullptr) {
            char target[64];
            ssize_t n = readlink((dir_path + "/" + entry->d_name).c_str(), target, sizeof target - 1);
            if (n > 0 && std::string_view(target, static_cast<size_t>(n)) == wanted) {
                int fd = std::atoi(entry->d_name);
                closedir(dir);
                return fd;
            }
        }
        if (dir) closedir(dir);
    }
    return -1;
}

long ServerProcess::rss_kib() const { return tree_sum([](pid_t p) { return status_field(p, "VmRSS"); }); }
long ServerProcess::anon_kib() const { return tree_sum([](pid_t p) { return status_field(p, "RssAnon"); }); }
long ServerProcess::vm_kib() const { return tree_sum([](pid_t p) { return status_field(p, "VmSize"); }); }
long ServerProcess::threads() const { return tree_sum([](pid_t p) { return status_field(p, "Threads"); }); }

static long count_fds(pid_t pid) {
    DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
    if (!dir) return -1;
    long count = 0;
    while (dirent* entry = readdir(dir))
        if (entry->d_name[0] != '.') ++count;
    closedir(dir);
    return count;
}

long ServerProcess::open_fds() const { return alive() ? tree_sum(count_fds) : -1; }

long ServerProcess::steady_fds() const {
    long last = open_fds();
    for (int same = 0, i = 0; same < 5 && i < 125; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
        long now = open_fds();
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

static long cpu_ticks(pid_t pid) {
    std::vector<std::string> fields = stat_fields(std::to_string(pid));
    if (fields.size() < 13) return 0;
    return std::stol(fields[14 - 3]) + std::stol(fields[15 - 3]);  // utime and stime: fields 14 and 15
}

double ServerProcess::cpu_seconds() const {
    return static_cast<double>(tree_sum(cpu_ticks)) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string ServerProcess::log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string Reply::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) return value;
    return "";
}

Client::Client(int port, int timeout_ms, const std::string& host) : Client(port, TlsOptions{.on = tls_run()}, timeout_ms, host) {}

Client::Client(int port, const TlsOptions& tls, int timeout_ms, const std::string& host) : timeout_ms_(timeout_ms) {
    std::string to = host.empty() ? g_host : host;
    if (to == "::") to = "::1";
    SocketAddress server = parse_address(to, port);
    Fd fd(::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), server.get(), server.length) == 0) fd_ = std::move(fd);
    set_io_timeout(fd_.get(), timeout_ms);
    if (!fd_ || !tls.on) return;
    set_nonblocking(fd_.get());  // the wire waits with poll() itself, bounded by timeout_ms
    tls_ = std::make_unique<TlsWire>(fd_.get(), tls, to);
    if (tls.handshake) ready_ = handshake();
}

Client::~Client() {
    if (tls_ && fd_) tls_->close_notify();
}

Client::Client(Client&& other) noexcept
    : fd_(std::move(other.fd_)), pending_(std::move(other.pending_)), timeout_ms_(other.timeout_ms_), tls_(std::move(other.tls_)),
      ready_(other.ready_), ending_(other.ending_) {}

Client& Client::operator=(Client&& other) noexcept {
    if (this == &other) return *this;
    if (tls_ && fd_) tls_->close_notify();
    tls_ = std::move(other.tls_);  // the old session goes before its socket
    fd_ = std::move(other.fd_);
    pending_ = std::move(other.pending_);
    timeout_ms_ = other.timeout_ms_;
    ready_ = other.ready_;
    ending_ = other.ending_;
    return *this;
}

bool Client::send(std::string_view bytes) {
    if (!fd_) return false;
    return tls_ ? tls_->write_all(bytes, timeout_ms_) : write_all(fd(), bytes).ok();
}

void Client::shutdown_write() {
    if (tls_) tls_->close_notify();  // TLS 1.3 lets the other side go on writing (RFC 8446 6.1)
    ::shutdown(fd(), SHUT_WR);
}

void Client::reset() {
    linger reset_on_close{1, 0};  // a zero linger time makes close() send RST
    setsockopt(fd(), SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close);
    tls_.reset();  // no close_notify: a reset is a client that vanished
    fd_.reset();
}

bool Client::has_bytes() {
    if (!pending_.empty()) return true;
    if (!tls_) {
        pollfd p{fd(), POLLIN, 0};
        return retry_eintr([&] { return poll(&p, 1, 0); }) > 0;
    }
    char chunk[16 * 1024];
    long n = receive(chunk, 0);  // may only take in a ticket, which is no byte of the response
    if (n > 0) pending_.append(chunk, static_cast<size_t>(n));
    return n >= 0 && !pending_.empty();
}

int Client::local_port() const { return one::local_port(fd()); }

bool Client::handshake() {
    if (!tls_) return false;
    ready_ = tls_->handshake(timeout_ms_);
    return ready_;
}

TlsFailure Client::tls_failure() const { return tls_ ? tls_->failure() : TlsFailure{}; }
TlsInfo Client::tls_info() const { return tls_ ? tls_->info() : TlsInfo{}; }
void Client::close_notify() {
    if (tls_) tls_->close_notify();
}

std::shared_ptr<TlsSession> Client::tls_session() {
    if (!tls_) return nullptr;
    if (!tls_->session()) has_bytes();  // a TLS 1.3 ticket may be waiting unread behind the handshake
    return tls_->session();
}

long Client::receive(std::span<char> into, int timeout_ms) {
    if (!fd_) {
        ending_ = Ending::Reset;
        return 0;
    }
    if (tls_) {
        Ending ended = Ending::Open;
        size_t n = tls_->read(into, timeout_ms, ended);
        if (n > 0) return static_cast<long>(n);
        if (ended == Ending::Timeout) return -1;
        ending_ = ended;
        return 0;
    }
    pollfd p{fd(), POLLIN, 0};
    if (retry_eintr([&] { return poll(&p, 1, timeout_ms); }) <= 0) return -1;
    IoResult r = read_some(fd(), into);
    if (r.ok() && r.n > 0) return static_cast<long>(r.n);
    if (r.error == EAGAIN) return -1;  // SO_RCVTIMEO
    ending_ = r.ok() ? Ending::Eof : Ending::Reset;
    return 0;
}

bool Client::fill() {
    char chunk[64 * 1024];
    long n = receive(chunk, timeout_ms_);
    if (n <= 0) return false;
    pending_.append(chunk, static_cast<size_t>(n));
    return true;
}

long Client::discard_some(size_t max) {
    char sink[64 * 1024];
    return receive(std::span(sink, std::min(max, sizeof sink)), timeout_ms_);
}

Reply Client::read_reply(bool head) {
    Reply reply;
    size_t head_end;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) {
            FAIL_CHECK("no complete response head (timeout or closed); got: " << pending_.substr(0, 200));
            return {};
        }
    std::istringstream lines(pending_.substr(0, head_end));
    std::string line;
    std::getline(lines, line);
    std::istringstream status_line(line);
    status_line >> reply.version >> reply.status;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        size_t value_at = line.find_first_not_of(' ', colon + 1);
        reply.headers.emplace_back(line.substr(0, colon), value_at == std::string::npos ? "" : line.substr(value_at));
    }
    pending_.erase(0, head_end + 4);
    bool bodiless = head || reply.status < 200 || reply.status == 204 || reply.status == 304;
    if (!bodiless && http::iequals(reply.header("Transfer-Encoding"), "chunked")) {
        if (!read_chunked(reply.body)) FAIL_CHECK("chunked body cut short or malformed: " << pending_.substr(0, 200));
        return reply;
    }
    std::string length = reply.header("Content-Length");
    size_t want = bodiless ? 0 : length.empty() ? std::string::npos : std::stoul(length);
    while (pending_.size() < want && fill()) {
    }
    if (want != std::string::npos && pending_.size() < want) {
        FAIL_CHECK("body shorter than Content-Length " << want << ": got " << pending_.size());
        return {};
    }
    size_t take = std::min(want, pending_.size());
    reply.body = pending_.substr(0, take);
    pending_.erase(0, take);
    return reply;
}

// A chunked body, decoded into `body` (chunk extensions and trailers ignored); false if it breaks off.
bool Client::read_chunked(std::string& body) {
    for (;;) {
        size_t eol;
        while ((eol = pending_.find("\r\n")) == std::string::npos)
            if (!fill()) return false;
        size_t size = std::strtoul(pending_.c_str(), nullptr, 16);
        pending_.erase(0, eol + 2);
        if (size == 0) {  // trailers, then the blank line
            while ((eol = pending_.find("\r\n")) != 0) {
                if (eol == std::string::npos) {
                    if (!fill()) return false;
                    continue;
                }
                pending_.erase(0, eol + 2);
            }
            pending_.erase(0, 2);
            return true;
        }
        while (pending_.size() < size + 2)
            if (!fill()) return false;
        body.append(pending_, 0, size);
        pending_.erase(0, size + 2);
    }
}

bool Client::closed_by_server() {
    if (!pending_.empty()) return false;
    char chunk[4096];
    long n = receive(tls_ ? std::span(chunk) : std::span(chunk, 1), timeout_ms_);
    if (n > 0) pending_.append(chunk, static_cast<size_t>(n));  // bytes first: not (only) a close
    if (n < 0) ending_ = Ending::Timeout;
    return n == 0;
}

bool Client::read_to_close(std::string& got) {
    char chunk[4096];
    long n;
    while ((n = receive(chunk, timeout_ms_)) > 0) pending_.append(chunk, static_cast<size_t>(n));
    got = std::exchange(pending_, {});
    if (n < 0) ending_ = Ending::Timeout;
    return n == 0;
}

std::string request(std::string_view method, std::string_view target, std::string_view extra, std::string_view body) {
    std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n";
    text += extra;
    if (!body.empty()) text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    return text + "\r\n" + std::string(body);
}

std::string get(std::string_view target, std::string_view extra) { return request("GET", target, extra); }

Reply exchange(int port, std::string_view bytes, bool head) {
    Client client(port);
    REQUIRE(client.connected());
    REQUIRE(client.send(bytes));
    return client.read_reply(head);
}

int run_binary(const std::string& args, std::string& output, bool tls_identity) {
    std::string identity = tls_identity ? tls_identity_flags() : "";
    std::string command = "timeout 10 " + server_binary() + " " + identity + args + " 2>&1 </dev/null";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) return -1;
    char chunk[4096];
    while (size_t n = fread(chunk, 1, sizeof chunk, pipe.get())) output.append(chunk, n);
    int status = pclose(pipe.release());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_binary_refused(long syscall, int error, const std::string& args, std::string& output, long first_arg) {
    std::string command = "exec timeout 10 " + server_binary() + " " + tls_identity_flags() + args;
    if (!g_backend.empty()) command += " --upstream 127.0.0.1:9";
    // The filter is made before the fork: the child makes system calls only (see server_command).
    auto call = static_cast<unsigned>(syscall);
    sock_filter refuse = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | static_cast<unsigned>(error));
    sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    std::vector<sock_filter> filter = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr))};
    if (first_arg < 0) {
        filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, call, 0, 1));
    } else {  // the low 32 bits of args[0], which is where a little-endian machine keeps them
        filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, call, 0, 3));
        filter.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
        filter.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(first_arg), 0, 1));
    }
    filter.push_back(refuse);
    filter.push_back(allow);
    sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) _exit(100);
        execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
        _exit(101);
    }
    close(out[1]);
    char chunk[4096];
    for (ssize_t n; (n = read(out[0], chunk, sizeof chunk)) > 0;) output.append(chunk, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace one::test
