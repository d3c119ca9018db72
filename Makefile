# braid: the two commands of the README, and a few more.
#   make run         install what is missing, build, serve ./braid-data on 127.0.0.1:8470
#   make test        install what is missing, build, run every test
#   make check-long  long runs: 4,000 replication model seeds, 200 crash rounds,
#                    ten times the power cuts
#   make bench       end-to-end benchmarks (JSON on stdout), then bench/compare
#                    (braid beside PouchDB and raw SQLite; installs the npm peers)
#   make asan        the test suite under AddressSanitizer + UBSan

MAKEFLAGS += --no-print-directory
BUILD ?= build
DATA ?= ./braid-data
LISTEN ?= 127.0.0.1:8470
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build build-braid run test check-long bench asan format clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DBRAID_BUILD_TESTS=ON \
	  -DBRAID_BUILD_BENCH=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# The server alone: `make run` on a fresh machine need not wait for every
# test and benchmark to compile.
build-braid: configure
	@cmake --build $(BUILD) -j$(JOBS) --target braid

run: build-braid
	@test -f $(DATA)/store.db || $(BUILD)/braid --data $(DATA) init
	@$(BUILD)/braid --data $(DATA) serve --listen $(LISTEN)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

check-long: build
	@cd $(BUILD) && BRAID_CRASH_ROUNDS=200 BRAID_MODEL_SEEDS=0:4000 BRAID_POWERCUT_SCALE=10 \
	  ctest --output-on-failure -j$(JOBS) -R 'Crash|ModelTest|PowerCut' --timeout 7200

bench: build
	@$(BUILD)/bench/bulk_write_bench
	@$(BUILD)/bench/delta_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/sync_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/load_bench
	@$(BUILD)/bench/cert_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/micro_bench --benchmark_format=console
	@BUILD=$(BUILD) bench/compare

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBRAID_SANITIZE=ON -DBRAID_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) --timeout 900

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	@rm -rf $(BUILD) build-asan
