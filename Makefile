# Front door: `make demo` and `make test` (see README.md). Everything real
# lives in CMake; this file only installs packages, configures and runs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build build-asan test test-repeat demo bench clean

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

# All tests in the normal tree, then the unit tests again under ASan+UBSan.
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|asan'

# The integration tests N times, stopping at the first failure (flakes
# show here, not in CI): `make test-repeat N=10 STRESS=2` keeps both cores
# busy with stress-ng meanwhile.
N ?= 10
STRESS ?= 0
test-repeat: build
	./scripts/test_repeat.sh $(BUILD) $(N) $(STRESS)

demo: build
	./scripts/demo.sh $(BUILD)

bench: build
	./bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
