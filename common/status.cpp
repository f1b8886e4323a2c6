#include "status.hpp"

#include "sys.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <new>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace one::status {
namespace {

Slot local_slot;                // a single-process server's, and the master's
Slot* slot_in_use = &local_slot;
// With workers: slot 0 holds the counts of processes that have ended, slots 1.. the live ones'.
Slot* shared_slots = nullptr;
int slot_count = 0;
std::vector<uint32_t> restarts_of;  // the master's: per worker number

struct RefusalName {
    const char* text;  // on the page
    const char* json;  // its key
};
constexpr RefusalName kRefusalNames[] = {
    {"503 at FD_SETSIZE", "503_fd_setsize"},
    {"503 at --max-connections", "503_max_connections"},
    {"503 no thread", "503_no_thread"},
    {"503 queue full", "503_queue_full"},
    {"503 out of descriptors", "503_out_of_descriptors"},
    {"accept out of descriptors", "accept_out_of_descriptors"},
    {"400", "400"},
    {"408", "408"},
    {"413", "413"},
    {"414", "414"},
    {"431", "431"},
    {"501", "501"},
    {"505", "505"},
    {"502/504 from a backend", "gateway"},
    {"other", "other"},
};
static_assert(std::size(kRefusalNames) == static_cast<size_t>(Refusal::Count));

constexpr const char* kModelNames[] = {"threads_alive", "pool_queued", "pool_busy"};
static_assert(std::size(kModelNames) == static_cast<size_t>(ModelNumber::Count));

constexpr const char* kStateNames[] = {"", "reading", "writing", "idle", "closing"};

// A number as it is, whether read from a slot's atomic or already a plain copy.
template <typename T>
T get(const std::atomic<T>& a) { return a.load(std::memory_order_relaxed); }
template <typename T>
T get(T plain) { return plain; }

// One slot's numbers, or the sum of several, as plain values.
struct Totals {
    uint64_t accepted = 0, requests = 0, bytes_in = 0, bytes_out = 0, turns = 0, events = 0;
    uint64_t refused[static_cast<int>(Refusal::Count)] = {};
    int64_t in_state[5] = {};
    int64_t model[static_cast<int>(ModelNumber::Count)] = {};
    uint8_t shown = 0;  // which model numbers there are

    // Adds a Slot (read once, field by field) or another Totals.
    template <typename From>
    void add(const From& s) {
        accepted += get(s.accepted);
        requests += get(s.requests);
        bytes_in += get(s.bytes_in);
        bytes_out += get(s.bytes_out);
        turns += get(s.turns);
        events += get(s.events);
        for (int i = 0; i < static_cast<int>(Refusal::Count); ++i) refused[i] += get(s.refused[i]);
        for (int i = 1; i < 5; ++i) in_state[i] += get(s.in_state[i]);
        for (int i = 0; i < static_cast<int>(ModelNumber::Count); ++i) model[i] += get(s.model[i]);
        shown |= get(s.shown);
    }
    int64_t open() const { return in_state[1] + in_state[2] + in_state[3] + in_state[4]; }
};

std::string json_text(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

std::string json_totals(const Totals& t) {
    std::string out = "\"connections\":{\"open\":" + std::to_string(t.open());
    for (int i = 1; i < 5; ++i) out += std::string(",\"") + kStateNames[i] + "\":" + std::to_string(t.in_state[i]);
    out += "},\"accepted\":" + std::to_string(t.accepted) + ",\"requests\":" + std::to_string(t.requests);
    out += ",\"refused\":{";
    for (size_t i = 0; i < std::size(kRefusalNames); ++i)
        out += std::string(i ? "," : "") + "\"" + kRefusalNames[i].json + "\":" + std::to_string(t.refused[i]);
    out += "},\"bytes\":{\"in\":" + std::to_string(t.bytes_in) + ",\"out\":" + std::to_string(t.bytes_out) + "}";
    out += ",\"loop\":{\"turns\":" + std::to_string(t.turns) + ",\"events\":" + std::to_string(t.events) + "}";
    out += ",\"model_numbers\":{";
    const char* comma = "";
    for (size_t i = 0; i < std::size(kModelNames); ++i)
        if (t.shown & (1u << i)) {
            out += std::string(comma) + "\"" + kModelNames[i] + "\":" + std::to_string(t.model[i]);
            comma = ",";
        }
    return out + "}";
}

std::string text_totals(const Totals& t, const char* indent) {
    std::string out;
    auto line = [&](const char* label, const std::string& value) { out += std::string(indent) + label + value + "\n"; };
    std::string states;
    for (int i = 1; i < 5; ++i) states += std::string(i > 1 ? ", " : "") + std::to_string(t.in_state[i]) + " " + kStateNames[i];
    line("connections  ", std::to_string(t.open()) + " open: " + states);
    line("accepted     ", std::to_string(t.accepted));
    line("requests     ", std::to_string(t.requests));
    std::string refused;
    for (size_t i = 0; i < std::size(kRefusalNames); ++i)
        if (t.refused[i]) refused += std::string(refused.empty() ? "" : ", ") + kRefusalNames[i].text + ": " + std::to_string(t.refused[i]);
    line("refused      ", refused.empty() ? "none" : refused);
    line("bytes        ", std::to_string(t.bytes_in) + " in, " + std::to_string(t.bytes_out) + " out");
    if (t.turns) {
        char per_turn[32];
        std::snprintf(per_turn, sizeof per_turn, "%.2f", static_cast<double>(t.events) / static_cast<double>(t.turns));
        line("loop         ", std::to_string(t.turns) + " turns, " + per_turn + " events per turn");
    }
    if (t.shown & 1u) line("threads      ", std::to_string(t.model[0]) + " alive");
    if (t.shown & 6u) line("pool         ", std::to_string(t.model[1]) + " queued, " + std::to_string(t.model[2]) + " busy");
    return out;
}

size_t refusal_index(Refusal why) { return static_cast<size_t>(why); }

void mark_shown(ModelNumber which) {
    auto bit = static_cast<uint8_t>(1u << static_cast<int>(which));
    if (!(mine().shown.load(std::memory_order_relaxed) & bit)) mine().shown.fetch_or(bit, std::memory_order_relaxed);
}

}  // namespace

Slot& mine() { return *slot_in_use; }

void count_refusal(Refusal why) { add(mine().refused[refusal_index(why)]); }

void count_refusal_status(int http_status) {
    switch (http_status) {
    case 400: return count_refusal(Refusal::BadRequest);
    case 408: return count_refusal(Refusal::Timeout);
    case 413: return count_refusal(Refusal::BodyTooLarge);
    case 414: return count_refusal(Refusal::TargetTooLong);
    case 431: return count_refusal(Refusal::HeadersTooLarge);
    case 501: return count_refusal(Refusal::NotImplemented);
    case 505: return count_refusal(Refusal::VersionNotSupported);
    case 502:
    case 504: return count_refusal(Refusal::Gateway);
    default: return count_refusal(Refusal::Other);
    }
}

void set_model(ModelNumber which, int64_t value) {
    mark_shown(which);
    mine().model[static_cast<int>(which)].store(value, std::memory_order_relaxed);
}

void add_model(ModelNumber which, int64_t delta) {
    mark_shown(which);
    mine().model[static_cast<int>(which)].fetch_add(delta, std::memory_order_relaxed);
}

void move(State& counted, State now) {
    if (counted == now) return;
    Slot& s = mine();
    if (counted != State::None) s.in_state[static_cast<int>(counted)].fetch_sub(1, std::memory_order_relaxed);
    if (now != State::None) s.in_state[static_cast<int>(now)].fetch_add(1, std::memory_order_relaxed);
    counted = now;
}

void share_between(int workers) {
    // A reload overlaps old and new workers, and quick reloads several generations: room for four.
    slot_count = 1 + 4 * workers;
    // Anonymous and MAP_SHARED: the children forked after this see the same pages, and nobody else does.
    void* mem = ::mmap(nullptr, sizeof(Slot) * static_cast<size_t>(slot_count), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw_errno("mmap (status counters)");
    shared_slots = static_cast<Slot*>(mem);
    for (int i = 0; i < slot_count; ++i) new (&shared_slots[i]) Slot;
    restarts_of.assign(static_cast<size_t>(workers), 0);
}

int claim_slot(int worker) {
    for (int i = 1; i < slot_count; ++i) {
        Slot& s = shared_slots[i];
        if (s.pid.load(std::memory_order_relaxed) != 0) continue;
        s.pid.store(-1, std::memory_order_relaxed);  // claimed; the worker writes its pid
        s.worker.store(worker, std::memory_order_relaxed);
        s.restarts.store(static_cast<size_t>(worker) < restarts_of.size() ? restarts_of[static_cast<size_t>(worker)] : 0,
                         std::memory_order_relaxed);
        return i;
    }
    return -1;
}

void assign_slot(int index, pid_t pid) {
    if (!shared_slots || index < 1 || index >= slot_count) return;
    shared_slots[index].pid.store(static_cast<int32_t>(pid), std::memory_order_relaxed);
}

void count_as_worker(int index) {
    if (!shared_slots || index < 1 || index >= slot_count) return;
    slot_in_use = &shared_slots[index];
    slot_in_use->pid.store(static_cast<int32_t>(::getpid()), std::memory_order_relaxed);
}

void process_ended(pid_t pid, bool died) {
    for (int i = 1; i < slot_count; ++i) {
        Slot& s = shared_slots[i];
        if (s.pid.load(std::memory_order_relaxed) != pid) continue;
        // The process is gone: nobody else writes this slot now.
        Slot& ended = shared_slots[0];
        auto move_over = [](std::atomic<uint64_t>& from, std::atomic<uint64_t>& to) {
            to.fetch_add(from.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
        };
        move_over(s.accepted, ended.accepted);
        move_over(s.requests, ended.requests);
        move_over(s.bytes_in, ended.bytes_in);
        move_over(s.bytes_out, ended.bytes_out);
        move_over(s.turns, ended.turns);
        move_over(s.events, ended.events);
        for (int r = 0; r < static_cast<int>(Refusal::Count); ++r) move_over(s.refused[r], ended.refused[r]);
        for (auto& gauge : s.in_state) gauge.store(0, std::memory_order_relaxed);
        for (auto& number : s.model) number.store(0, std::memory_order_relaxed);
        s.shown.store(0, std::memory_order_relaxed);
        int worker = s.worker.load(std::memory_order_relaxed);
        if (died && worker >= 0 && static_cast<size_t>(worker) < restarts_of.size()) ++restarts_of[static_cast<size_t>(worker)];
        s.pid.store(0, std::memory_order_relaxed);
        return;
    }
}

std::string render(const std::string& chapter, const std::string& model, bool json) {
    // Each slot is read once, and the total is the sum of what was read: the page adds up even
    // while the workers go on counting. Listed: the live workers, by worker number.
    struct Live {
        int worker;
        int32_t pid;
        uint32_t restarts;
        Totals counts;
    };
    std::vector<Live> live;
    Totals all;
    if (!shared_slots) all.add(*slot_in_use);
    for (int i = 0; i < slot_count; ++i) {
        const Slot& s = shared_slots[i];
        Totals one;
        one.add(s);
        all.add(one);
        int32_t pid = s.pid.load(std::memory_order_relaxed);
        if (i > 0 && pid > 0) live.push_back({s.worker.load(std::memory_order_relaxed), pid, s.restarts.load(std::memory_order_relaxed), one});
    }
    std::sort(live.begin(), live.end(), [](const Live& a, const Live& b) { return a.worker < b.worker || (a.worker == b.worker && a.pid < b.pid); });
    if (json) {
        std::string out = "{\"chapter\":" + json_text(chapter) + ",\"model\":" + json_text(model) + ",\"pid\":" +
                          std::to_string(::getpid()) + ",\"total\":{" + json_totals(all) + "},\"workers\":[";
        for (size_t i = 0; i < live.size(); ++i)
            out += std::string(i ? "," : "") + "{\"worker\":" + std::to_string(live[i].worker) + ",\"pid\":" + std::to_string(live[i].pid) +
                   ",\"restarts\":" + std::to_string(live[i].restarts) + "," + json_totals(live[i].counts) + "}";
        return out + "]}\n";
    }
    std::string out = "one-loop " + chapter + ": " + model + "\nanswered by pid " + std::to_string(::getpid()) + "\n\n";
    out += text_totals(all, "");
    for (const Live& w : live)
        out += "\nworker " + std::to_string(w.worker) + ": pid " + std::to_string(w.pid) + ", " + std::to_string(w.restarts) +
               " restarts\n" + text_totals(w.counts, "  ");
    return out;
}

}  // namespace one::status
