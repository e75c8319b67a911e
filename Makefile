# kiln's front door. `make test` and `make demo` install what they need first.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
PY := $(CURDIR)/.venv/bin/python
LIT := $(CURDIR)/.venv/bin/lit
DEMO_MODEL ?= tests/models/minilm_l2_opset17.onnx

.PHONY: all deps build test unit lit onnx-tests model-tests fuzz demo clean format

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DKILN_WERROR=ON

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@scripts/run-tests.sh $(BUILD)

fuzz: deps
	@scripts/fuzz.sh

demo: build
	@scripts/demo.sh $(BUILD) $(DEMO_MODEL)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) build-fuzz
