# Deep MicroCompression Workbench - the two commands of the README:
#   make serve   install what is missing, build, and run the main job
#   make test    install what is missing, build, and run every test
# Variables: MNIST_DIR (default ../shared/datasets/mnist), BUILD_DIR, PYTHON.

PYTHON    ?= /usr/bin/python3
BUILD_DIR ?= build
MNIST_DIR ?= ../shared/datasets/mnist
export MNIST_DIR := $(abspath $(MNIST_DIR))

# Debian packages the build and tests need (see README).
DEB_PACKAGES := cmake g++ ninja-build pkg-config libgtest-dev nlohmann-json3-dev \
                zlib1g-dev python3-torch python3-numpy python3-pytest \
                libopenblas0-pthread python3-onnx \
                gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib \
                qemu-system-arm

.PHONY: all deps build test test-engine test-python serve bench clean

all: build

# Installs the Debian packages that are not installed yet (needs root, or
# sudo). Does nothing when everything is there.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR)

test: build
	@test -d "$(MNIST_DIR)" || { echo "MNIST folder $(MNIST_DIR) not found: set MNIST_DIR"; exit 1; }
	cd $(BUILD_DIR) && ctest --output-on-failure
	cd python && $(PYTHON) -m pytest -q tests

# Until the browser workbench lands, the main job is the engine's report on
# the default model: 8-bit, then 4-bit with conv2 and fc1 pruned to half.
serve: build
	$(BUILD_DIR)/engine/dmc eval --model assets/lenet5.json
	@echo '{"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.5}}}' > $(BUILD_DIR)/pruned4.json
	$(BUILD_DIR)/engine/dmc eval --model assets/lenet5.json --config $(BUILD_DIR)/pruned4.json

# The engine against ONNX Runtime (onnxruntime-node) on the same model and
# MNIST test images, one thread; see engine/bench/README.md. Optional:
# MODEL=FILE (default assets/lenet5.json), LIMIT=N images, REPEAT=R runs.
bench: build
	BUILD_DIR=$(BUILD_DIR) PYTHON=$(PYTHON) bash engine/bench/bench.sh \
	  $(if $(MODEL),--model $(MODEL)) $(if $(LIMIT),--limit $(LIMIT)) $(if $(REPEAT),--repeat $(REPEAT))

clean:
	rm -rf $(BUILD_DIR)
