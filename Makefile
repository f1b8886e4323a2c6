# one-loop: every chapter is a complete HTTP/1.1 server; this builds, tests and measures them.
#
#   make                      build every chapter, the tests and the tools into build/
#   make test                 all tests (installs missing Debian packages first when run as root)
#   make tour                 build everything, run every chapter's lab, print the table, draw the plots
#   make lab CH=02            one chapter's lab (QUICK=1 for the few-second version)
#   make diff FROM=01 TO=02   what chapter TO changes, as a diff of the two folders' code
#   make narrate CH=05        one curl to chapter CH run with --narrate, and what it said (VS=10: two side by side)
#   make bench-parser         our HTTP parser against http-parser on the same requests
#   make book                 the book as one HTML file, with this machine's lab results: build/book/index.html
#   make fuzz SECONDS=60      the parser's libFuzzer target, with a whole-versus-pieces check
#   make deps                 install (as root) or name (otherwise) every Debian package any target uses
#   make clean
#   SANITIZE=address,undefined or SANITIZE=thread builds into build/sanitize-*/ instead

CXX ?= g++
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wshadow -I. -MMD -MP
LDLIBS += -pthread
ifneq ($(CI),)
CXXFLAGS += -Werror
endif

comma := ,
ifeq ($(SANITIZE),)
BUILD := build
# Link-time optimisation lets g++ inline across files: the parser's hot path runs through
# http_parser.cpp and http_head.cpp, and make bench-parser measures what that is worth.
CXXFLAGS += -flto=auto
LDFLAGS += -flto=auto
else
BUILD := build/sanitize-$(subst $(comma),-,$(SANITIZE))
CXXFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
ifneq ($(findstring undefined,$(SANITIZE)),)
# UBSan's vptr check tests that a vtable is readable with a pipe() the first time it meets a type.
# Out of descriptors, as the EMFILE tests make a server, the pipe fails and a live object is
# reported as having an invalid vptr. ASan still checks every such call for freed memory.
CXXFLAGS += -fno-sanitize=vptr
LDFLAGS += -fno-sanitize=vptr
endif
endif

CHAPTERS := $(notdir $(wildcard chapters/[0-9][0-9]-*))
COMMON_SRC := $(wildcard common/*.cpp)
LIB := $(BUILD)/lib/libone.a
SERVERS := $(CHAPTERS:%=$(BUILD)/bin/%)
CHAPTER_TESTS := $(foreach ch,$(CHAPTERS),$(if $(wildcard chapters/$(ch)/test_*.cpp),$(BUILD)/bin/test-$(ch)))
TOOLS := $(BUILD)/bin/unit-tests $(BUILD)/bin/blackbox $(BUILD)/bin/syscall-cost $(if $(wildcard common/loadgen/*.cpp),$(BUILD)/bin/loadgen)

obj = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(1))

.PHONY: all test tour lab diff narrate deps check-deps clean bench-parser fuzz book
.SECONDARY:  # keep the objects of test binaries: make would delete them as intermediate and rebuild them every time
all: $(SERVERS) $(CHAPTER_TESTS) $(TOOLS)

# Every object waits for the dependency check, so a fresh machine learns what it lacks before g++ does.
$(BUILD)/obj/%.o: %.cpp | check-deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(LIB): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# A chapter's binary: every .cpp in its folder except its tests, and the common library.
.SECONDEXPANSION:
$(SERVERS): $(BUILD)/bin/%: $$(call obj,$$(filter-out $$(wildcard chapters/$$*/test_*.cpp),$$(wildcard chapters/$$*/*.cpp))) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $(filter-out $(LIB),$^) $(LIB) -o $@ $(LDLIBS)

# Chapters whose new idea is a library of the kernel's interface: chapter 10's io_uring.
$(BUILD)/bin/10-io-uring: LDLIBS += -luring
$(BUILD)/bin/11-tls: LDLIBS += -lssl -lcrypto
# Chapter 11 is chapter 09's front door with TLS in front: it links 09's proxy rather than copy it.
$(BUILD)/bin/11-tls: $(call obj,chapters/09-proxy/proxy.cpp)
# The tools that speak TLS to chapter 11: loadgen (--tls) and the test clients, and the unit tests,
# which link loadgen's pieces.
$(BUILD)/bin/loadgen $(BUILD)/bin/unit-tests $(BUILD)/bin/blackbox $(BUILD)/bin/test-%: LDLIBS += -lssl -lcrypto

HARNESS_SRC := common/blackbox/harness.cpp common/blackbox/main.cpp common/blackbox/tls_client.cpp
$(BUILD)/bin/blackbox: $(call obj,$(wildcard common/blackbox/*.cpp)) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bin/test-%: $$(call obj,$$(wildcard chapters/%/test_*.cpp) $(HARNESS_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The unit tests also test loadgen's pieces: every loadgen object but the one with main().
$(BUILD)/bin/unit-tests: $(call obj,$(wildcard common/tests/*.cpp) $(filter-out common/loadgen/main.cpp,$(wildcard common/loadgen/*.cpp))) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bin/loadgen: $(call obj,$(wildcard common/loadgen/*.cpp)) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# What one system call's entry and exit cost here: chapter 10's lab prices an epoll loop's calls with it.
$(BUILD)/bin/syscall-cost: $(call obj,common/bench/syscall_cost.cpp)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bin/bench-parser: $(call obj,common/bench/bench_parser.cpp) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) $^ -o $@ -lbenchmark -lhttp_parser $(LDLIBS)

check-deps:
	@scripts/deps.sh build

test: all
	@BUILD=$(BUILD) scripts/test.sh

tour:
	@scripts/deps.sh build tour
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/tour.sh

lab: all
	@scripts/deps.sh tour
	@BUILD=$(BUILD) chapters/$$(cd chapters && ls -d $(CH)-* | head -n1)/compare.sh $(if $(QUICK),--quick)

diff:
	@scripts/diff.sh $(FROM) $(TO)

narrate: all
	@scripts/deps.sh narrate
	@BUILD=$(BUILD) scripts/narrate.sh "$(CH)" "$(VS)" "$(or $(URL),/hello)"

bench-parser:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(BUILD)/bin/bench-parser
	@BUILD=$(BUILD) scripts/bench-parser.sh

# The book reads results/ as it is: a lab not yet run shows as a box saying how to run it.
book:
	@scripts/deps.sh book
	@python3 scripts/book render --out build/book/index.html

fuzz:
	@scripts/fuzz.sh $(or $(SECONDS),60)

deps:
	@scripts/deps.sh build tour bench book fuzz narrate

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
