# alloy: the two commands a new user needs are `make demo` and `make test`.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
# alloy_core compiles as batches of 16 sources (CMake's unity build): a first build, which is what CI
# and a new user run, parses the standard and library headers a sixteenth as often.
CMAKE_FLAGS ?= -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16

.PHONY: all setup build build-tests build-asan demo test test-release test-sanitize bench bench-model fuzz soak llama-check clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/Makefile: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DALLOY_SANITIZE=ON $(CMAKE_FLAGS) > /dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) --target alloy_tests

demo: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target alloy
	@bash scripts/demo.sh $(BUILD)/alloy

# The tests need alloy, alloy_tests and the fault shim, not the benchmarks.
build-tests: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target alloy_tests

# Each test run ends with how many tests were skipped and why (.ci/skipped_tests.py).
test-release: build-tests
	@bash scripts/setup-js.sh
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --output-junit ctest-junit.xml; status=$$?; \
	  python3 $(CURDIR)/.ci/skipped_tests.py ctest-junit.xml "optimised build"; exit $$status

test-sanitize: build-asan
	@bash scripts/setup-js.sh
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) --output-junit ctest-junit.xml; status=$$?; \
	  python3 $(CURDIR)/.ci/skipped_tests.py ctest-junit.xml "ASan+UBSan build"; exit $$status

# The whole suite, in the optimised build and under ASan+UBSan.
test: test-release test-sanitize

bench: build
	@$(BUILD)/alloy_bench $(BENCH_ARGS)

# The evaluation engine's forward and backward speed against the machine's sgemm rate.
bench-model: build
	@$(BUILD)/alloy_model_bench --alloy $(BUILD)/alloy $(BENCH_ARGS)

# Each parser's libFuzzer target for FUZZ_S seconds, one after another (docs/reliability.md);
# FUZZ_TARGETS picks some. Needs clang (Debian's clang package); not part of `make test`.
FUZZ_BUILD ?= build-fuzz
FUZZ_S ?= 60
FUZZ_RUNS ?= -1
fuzz:
	@command -v clang++ > /dev/null || { echo "make fuzz needs clang++ (apt-get install clang)"; exit 1; }
	@cmake -S fuzz -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ > /dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@FUZZ_RUNS=$(FUZZ_RUNS) bash fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_S) $(FUZZ_TARGETS)

# Every example recipe (every method) on a fixture family of SOAK_GB gigabytes per model, SOAK_RUNS
# times at -j 1 and at -j 2: all outputs of a recipe must hash the same (docs/reliability.md).
# Needs about 4.5 x SOAK_GB of disk in SOAK_DIR; not part of `make test`.
SOAK_GB ?= 2
SOAK_RUNS ?= 2
SOAK_DIR ?= $(BUILD)/soak
soak: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS) --target alloy
	@bash tools/soak/run_soak.sh $(BUILD)/alloy $(SOAK_DIR) $(SOAK_GB) $(SOAK_RUNS)

# alloy's GGUF outputs of stories260K merges against llama.cpp's converter, quantiser and
# llama-perplexity (docs/gguf.md). Builds llama.cpp once into build-llama-check (~10 min); needs
# python3-torch, python3-numpy, python3-sentencepiece and python3-tqdm. Not part of `make test`.
llama-check: build
	@bash tools/llama_check/run.sh $(BUILD)/alloy build-llama-check

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
