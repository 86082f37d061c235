# Front door: `make demo` and `make test` (see README.md). Everything real
# lives in CMake; this file only installs packages, configures and runs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
comma      := ,
CMAKE_ARGS ?=

.PHONY: all deps build build-asan build-fuzz test test-repeat fuzz format format-check checksrc demo bench bench-sweep install clean

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDEFLEET_WERROR=ON $(CMAKE_ARGS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMDEFLEET_WERROR=ON -DMDEFLEET_SANITIZE=ON $(CMAKE_ARGS)

# libFuzzer is clang's: the harnesses (tests/fuzz) have a tree of their own.
$(FUZZ_BUILD)/CMakeCache.txt:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDEFLEET_WERROR=ON -DMDEFLEET_FUZZ=ON $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

build-fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

# The source checks, all tests in the normal tree, the unit tests again
# under ASan+UBSan, then each fuzz harness on its seeds and a fixed number
# of mutations.
test: build build-asan build-fuzz format-check checksrc
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|asan'
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz

# Each fuzz harness SECONDS seconds on its corpus, one line each; fails when
# one found something (tests/fuzz/README.md). FUZZ=url,time picks some.
SECONDS ?= 60
FUZZ ?=
fuzz: build-fuzz
	./tests/fuzz/run.sh --bin $(FUZZ_BUILD)/bin --dir $(FUZZ_BUILD)/fuzz --seconds $(SECONDS) $(subst $(comma), ,$(FUZZ))

# The integration tests N times, stopping at the first failure (flakes
# show here, not in CI): `make test-repeat N=10 STRESS=2` keeps both cores
# busy with stress-ng meanwhile.
N ?= 10
STRESS ?= 0
test-repeat: build
	./scripts/test_repeat.sh $(BUILD) $(N) $(STRESS)

# The C style (.clang-format) and the banned calls and includes
# (scripts/checksrc.py); both run in `make test`.
format:
	./scripts/format.sh fix

format-check: deps
	./scripts/format.sh check

checksrc:
	python3 scripts/checksrc.py

# KEEP=1: leave the demo's stack running and print how to use and stop it
KEEP ?= 0
demo: build
	KEEP=$(KEEP) ./scripts/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

bench-sweep: build
	/usr/bin/python3 bench/sweep.py --build $(BUILD)

# The binaries, man pages and example configuration under PREFIX (default
# /usr/local); DESTDIR stages them, as packagers expect.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
