# Front door: `make demo` and `make test` (see README.md). Everything real
# lives in CMake; this file only installs packages, configures and runs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build build-asan test test-repeat format format-check checksrc demo bench bench-sweep install clean

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDEFLEET_WERROR=ON $(CMAKE_ARGS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMDEFLEET_WERROR=ON -DMDEFLEET_SANITIZE=ON $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The source checks, all tests in the normal tree, then the unit tests
# again under ASan+UBSan.
test: build build-asan format-check checksrc
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|asan'

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
	rm -rf $(BUILD) $(ASAN_BUILD)
