# braid: the two commands of the README, and a few more.
#   make run         install what is missing, build, serve ./braid-data on 127.0.0.1:8470
#   make test        install what is missing, build, run every test
#   make check-long  long runs: 4,000 replication model seeds, 200 crash rounds,
#                    ten times the power cuts
#   make bench       end-to-end benchmarks (JSON on stdout), then bench/compare
#                    (braid beside PouchDB and raw SQLite; installs the npm peers)
#   make asan        the test suite under AddressSanitizer + UBSan (but the pg.
#                    flavours of the integration tests: the PostgreSQL backend's
#                    code runs under it in store_test; CI's time is kept for the rest)
#   make fuzz        every libFuzzer target for 10M runs (FUZZ_RUNS=N for more or
#                    fewer); `make test` runs each for a few seconds

MAKEFLAGS += --no-print-directory
BUILD ?= build
DATA ?= ./braid-data
LISTEN ?= 127.0.0.1:8470
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_RUNS ?= 10000000
# Wall seconds of fuzzing in `make test`, shared by all targets.
FUZZ_BUDGET ?= 60

.PHONY: all deps configure build build-braid run test check-long bench asan fuzz-build fuzz format clean

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

test: build fuzz-build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900
	@fuzz/run --build $(FUZZ_BUILD) --budget $(FUZZ_BUDGET) -j$(JOBS)

check-long: build
	@cd $(BUILD) && BRAID_CRASH_ROUNDS=200 BRAID_MODEL_SEEDS=0:4000 BRAID_POWERCUT_SCALE=10 \
	  ctest --output-on-failure -j$(JOBS) -R 'Crash|ModelTest|PowerCut' --timeout 7200

bench: build
	@$(BUILD)/bench/bulk_write_bench
	@$(BUILD)/bench/delta_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/sync_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/pg_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/load_bench
	@$(BUILD)/bench/cert_bench --braid $(BUILD)/braid
	@$(BUILD)/bench/micro_bench --benchmark_format=console
	@BUILD=$(BUILD) bench/compare

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBRAID_SANITIZE=ON -DBRAID_BUILD_BENCH=OFF >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS) --timeout 900 -E "^pg\\."

# The libFuzzer targets of fuzz/ and the libraries they link, built by clang
# with ASan + UBSan and coverage feedback; nothing else is built.
fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBRAID_FUZZ=ON -DBRAID_BUILD_TESTS=OFF \
	  -DBRAID_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers

fuzz: fuzz-build
	@fuzz/run --build $(FUZZ_BUILD) --runs $(FUZZ_RUNS) -j$(JOBS)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	@rm -rf $(BUILD) build-asan $(FUZZ_BUILD)
