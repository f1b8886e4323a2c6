// bench_parser: our parser against http-parser (the parser Node.js used for years) on the same
// requests. Each iteration copies the request into a buffer and parses all of it, for both
// parsers: the copy is needed because our parser decodes chunked bodies in place.
// Run with `make bench-parser`.
#include "common/bench/corpus.hpp"
#include "common/http_parser.hpp"

#include <benchmark/benchmark.h>
#include <cstring>
#include <http_parser.h>

using namespace one;

static void ours(benchmark::State& state, const bench::Sample& sample) {
    std::string buffer(sample.bytes.size(), '\0');
    http::Request request;
    http::RequestParser parser;
    for (auto _ : state) {
        std::memcpy(buffer.data(), sample.bytes.data(), buffer.size());
        std::span<char> rest(buffer);
        int parsed = 0;
        while (!rest.empty()) {
            parser.reset();
            http::ParseResult r = parser.parse(rest, request);
            if (!r.complete()) {
                state.SkipWithError("our parser did not complete a request");
                return;
            }
            benchmark::DoNotOptimize(request.header_count);
            rest = rest.subspan(r.consumed);
            ++parsed;
        }
        if (parsed != sample.requests) state.SkipWithError("wrong number of requests");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * sample.bytes.size()));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * sample.requests));
}

// What a server using http-parser keeps: where each header name and value is, and where the body is.
struct Seen {
    const char* spans[2 * http::kMaxHeaders + 4];
    size_t count = 0;
    int messages = 0;
};

static int keep(http_parser* p, const char* at, size_t) {
    Seen* seen = static_cast<Seen*>(p->data);
    if (seen->count < std::size(seen->spans)) seen->spans[seen->count++] = at;
    return 0;
}

static int complete(http_parser* p) {
    static_cast<Seen*>(p->data)->messages++;
    return 0;
}

static void theirs(benchmark::State& state, const bench::Sample& sample) {
    std::string buffer(sample.bytes.size(), '\0');
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_url = settings.on_header_field = settings.on_header_value = settings.on_body = keep;
    settings.on_message_complete = complete;
    for (auto _ : state) {
        std::memcpy(buffer.data(), sample.bytes.data(), buffer.size());
        Seen seen;
        http_parser parser;
        http_parser_init(&parser, HTTP_REQUEST);
        parser.data = &seen;
        size_t used = http_parser_execute(&parser, &settings, buffer.data(), buffer.size());
        if (used != buffer.size() || seen.messages != sample.requests) {
            state.SkipWithError("http-parser did not parse the sample");
            return;
        }
        benchmark::DoNotOptimize(seen.count);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * sample.bytes.size()));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * sample.requests));
}

int main(int argc, char** argv) {
    static const std::vector<bench::Sample> samples = bench::corpus();
    for (const bench::Sample& s : samples) {
        benchmark::RegisterBenchmark((std::string("one-loop/") + s.name).c_str(), ours, s);
        benchmark::RegisterBenchmark((std::string("http-parser/") + s.name).c_str(), theirs, s);
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
