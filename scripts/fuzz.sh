#!/usr/bin/env bash
# fuzz.sh SECONDS: builds the parser's libFuzzer target with clang and runs it for SECONDS.
# The corpus grows in build/fuzz/corpus (seeded from common/fuzz/seeds); crashes land in build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/deps.sh fuzz
mkdir -p build/fuzz/corpus
clang++ -std=c++20 -O1 -g -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  common/fuzz/fuzz_parser.cpp common/http_parser.cpp common/http_head.cpp -o build/fuzz/fuzz-parser
# -jobs/-workers 1: the machine is shared; -rss_limit_mb guards against a parser that hoards memory.
build/fuzz/fuzz-parser -max_total_time="$seconds" -max_len=20000 -rss_limit_mb=1024 -print_final_stats=1 \
  -artifact_prefix=build/fuzz/ build/fuzz/corpus common/fuzz/seeds
