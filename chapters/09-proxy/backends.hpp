// backends: the servers behind the proxy, which of them is up, and which one takes the next request.
//
// Each worker keeps its own view (no shared memory, no locks): its own round-robin position, its
// own count of requests in flight per backend, its own idea of who is down. A backend that failed
// (refused a connection, reset one, never answered a connect) is left out for --fail-timeout
// seconds, nginx's passive health check (max_fails=1); an active check, when there is one,
// brings it back as soon as it answers again.
#pragma once

#include "common/deadline_list.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <memory>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <vector>

namespace one::proxy {

struct Link;  // a connection to a backend (upstream.hpp)

struct Backend {
    std::string name;              // "127.0.0.2:8008", as given
    sockaddr_in address{};
    size_t in_flight = 0;          // requests sent to it and not yet answered (least-connections)
    Clock::time_point down_until{};  // left out until then
    std::vector<Link*> idle;       // keep-alive connections waiting for a request, newest last
    size_t opened = 0;             // connections this worker opened to it
    size_t requests = 0;           // requests it was sent (tries, retries included)
    size_t failures = 0;
    bool checking = false;         // an active health check is under way
    std::unique_ptr<BurstLog> down_log;

    bool up(Clock::time_point now) const { return now >= down_until; }
};

// "HOST:PORT" with an IPv4 address (or localhost); throws std::invalid_argument otherwise.
inline sockaddr_in parse_address(const std::string& text) {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("not HOST:PORT: " + text);
    std::string host = text.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    sockaddr_in address{};
    address.sin_family = AF_INET;
    size_t end = 0;
    int port = -1;
    try {
        port = std::stoi(text.substr(colon + 1), &end);
    } catch (const std::exception&) {
    }
    if (port <= 0 || port > 65535 || end != text.size() - colon - 1) throw std::invalid_argument("bad port in " + text);
    address.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) throw std::invalid_argument("not an IPv4 address: " + text);
    return address;
}

enum class Balance : uint8_t { RoundRobin, LeastConnections };

// A set of backends that can serve the same paths: all of --upstream, or those of one --route.
struct Group {
    std::string prefix;              // "/static/"; empty for the default group
    std::vector<Backend*> members;
    size_t next = 0;                 // round-robin position

    // The backend for the next request, skipping those that are down and those in `tried` (this
    // request already failed there); null when none is left.
    Backend* pick(Balance balance, const std::vector<Backend*>& tried, Clock::time_point now) {
        Backend* best = nullptr;
        for (size_t i = 0; i < members.size(); ++i) {
            Backend* b = members[(next + i) % members.size()];
            if (!b->up(now) || std::find(tried.begin(), tried.end(), b) != tried.end()) continue;
            if (balance == Balance::RoundRobin) {
                next = (next + i + 1) % members.size();
                return b;
            }
            if (!best || b->in_flight < best->in_flight) best = b;  // ties: the first after the last pick
        }
        if (best) next = (next + 1) % members.size();
        return best;
    }
};

// Every backend named on the command line, once each, and the groups that share them.
class Backends {
public:
    // `defaults`: --upstream; `routes`: --route PREFIX=HOST:PORT, in the order given.
    Backends(const std::vector<std::string>& defaults, const std::vector<std::string>& routes) {
        for (const std::string& name : defaults) default_group_.members.push_back(find_or_add(name));
        for (const std::string& route : routes) {
            size_t eq = route.find('=');
            if (eq == std::string::npos || eq == 0 || route[0] != '/') throw std::invalid_argument("not PREFIX=HOST:PORT: " + route);
            std::string prefix = route.substr(0, eq);
            auto group = std::find_if(routes_.begin(), routes_.end(), [&](const Group& g) { return g.prefix == prefix; });
            if (group == routes_.end()) group = routes_.insert(routes_.end(), Group{prefix, {}, 0});
            group->members.push_back(find_or_add(route.substr(eq + 1)));
        }
        // Longest prefix first, so /static/img/ wins over /static/ whatever the order given.
        std::stable_sort(routes_.begin(), routes_.end(), [](const Group& a, const Group& b) { return a.prefix.size() > b.prefix.size(); });
        if (all_.empty()) throw std::invalid_argument("no backend: give --upstream HOST:PORT at least once");
    }

    // The group whose prefix `path` starts with, the longest such; else the default group (which
    // may be empty, when only routes were given: then the request gets 502).
    Group& group_for(std::string_view path) {
        for (Group& g : routes_)
            if (path.substr(0, g.prefix.size()) == g.prefix) return g;
        return default_group_;
    }

    std::vector<std::unique_ptr<Backend>>& all() { return all_; }

private:
    Backend* find_or_add(const std::string& name) {
        for (auto& b : all_)
            if (b->name == name) return b.get();
        auto b = std::make_unique<Backend>();
        b->name = name;
        b->address = parse_address(name);
        b->down_log = std::make_unique<BurstLog>("backend " + name + " is down");
        all_.push_back(std::move(b));
        return all_.back().get();
    }

    std::vector<std::unique_ptr<Backend>> all_;
    Group default_group_;
    std::vector<Group> routes_;
};

}  // namespace one::proxy
