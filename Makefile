# Deep MicroCompression Workbench - the two commands of the README:
#   make serve   install what is missing, build the browser workbench, serve it
#                on http://127.0.0.1:$(PORT)/ (default 8000)
#   make test    install what is missing, build, and run every test
# Variables: MNIST_DIR (default ../shared/datasets/mnist), BUILD_DIR, ASAN_DIR,
# WEB_DIR, PORT, PYTHON.

PYTHON    ?= /usr/bin/python3
BUILD_DIR ?= build
MNIST_DIR ?= ../shared/datasets/mnist
export MNIST_DIR := $(abspath $(MNIST_DIR))

# Debian packages the build and tests need (see README).
DEB_PACKAGES := cmake g++ ninja-build pkg-config libgtest-dev nlohmann-json3-dev \
                zlib1g-dev python3-torch python3-numpy python3-pytest \
                libopenblas0-pthread python3-onnx \
                gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib \
                qemu-system-arm clang libclang-rt-14-dev

.PHONY: all deps build test test-asan serve bench clean web web-deps web-sources app bench-web

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

test: build web app
	@test -d "$(MNIST_DIR)" || { echo "MNIST folder $(MNIST_DIR) not found: set MNIST_DIR"; exit 1; }
	cd $(BUILD_DIR) && ctest --output-on-failure
	cd python && $(PYTHON) -m pytest -q tests
	$(MAKE) test-asan

# The engine's unit tests and the command-line tests again, built with
# AddressSanitizer and UndefinedBehaviorSanitizer (DMC_SANITIZE) in their own
# folder, $(ASAN_DIR): only engine_tests and dmc are built. Any report fails
# the run: the sanitizers abort (status 134, which cli_test.sh counts as a
# crash where it expects a refusal's exit 1), leaks included.
ASAN_DIR   ?= build-asan
ASAN_ENV   := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1 \
              UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
# The gtests (named Suite.Test), the 128-bit kernel rerun, the CLI tests and
# the export-name tests. Left out as too slow under the sanitizers (9 of the
# 11 minutes all of these took, sanitized at -O3, on a busy 2-core machine):
# the gtests that evaluate LeNet-5 on all 10,000 MNIST test images (Lenet5
# in their names) and the one that counts every MNIST label. Not run here
# either: export_header (10,000 images through dmc infer, three times),
# mcu_* and fuzz (sanitized already).
ASAN_TESTS := '\.|^engine_plan_simd128$$|^cli$$|^export_names$$'
ASAN_SLOW  := 'Lenet5|^MnistData\.TestSetHasThePublishedLabelCounts$$'

# -O1: half the compile time of -O3 under the sanitizers, which is most of
# this target's time.
$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O1 \
	  -DCMAKE_CXX_FLAGS_RELEASE=-O1 -DDMC_SANITIZE=ON -DDMC_BUILD_APP=OFF

test-asan: deps $(ASAN_DIR)/build.ninja
	@test -d "$(MNIST_DIR)" || { echo "MNIST folder $(MNIST_DIR) not found: set MNIST_DIR"; exit 1; }
	cmake --build $(ASAN_DIR) --target engine_tests dmc
	cd $(ASAN_DIR) && $(ASAN_ENV) ctest --output-on-failure -R $(ASAN_TESTS) -E $(ASAN_SLOW)

# ---- the browser workbench (app/, wasm/; see docs in wasm/README.md) ----
# Emscripten 3.1.6, SDL2 2.26.5 and Dear ImGui 1.86 from Debian: SDL2 and ImGui
# as source packages (apt-get source, through a deb-src entry the script adds),
# fetched and built once into $(WEB_DIR); chromium and playwright-core (npm,
# into $(WEB_DIR)/node) for the browser tests.
WEB_DIR   ?= build-web
PORT      ?= 8000
WEB_ABS   := $(abspath $(WEB_DIR))
# Emscripten's optimizer needs Debian's acorn module (wasm/TOOLCHAIN.md).
EMENV     := NODE_PATH=/usr/share/nodejs
# What the web build needs, as "command:package": a command that is there
# already is not installed again (node and npm may come from elsewhere, and
# Debian's npm conflicts with a nodejs that bundles its own).
WEB_NEEDS := emcc:emscripten chromium:chromium node:nodejs npm:npm dpkg-source:dpkg-dev \
             xz:xz-utils sdl2-config:libsdl2-dev

web-deps: deps
	@missing=""; for need in $(WEB_NEEDS); do \
	  command -v $${need%%:*} >/dev/null 2>&1 || missing="$$missing $${need#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# SDL2 and ImGui sources (cached in $(WEB_DIR)/deps), their folders in sources.env.
web-sources: web-deps
	@mkdir -p $(WEB_DIR)
	wasm/fetch_sources.sh $(WEB_DIR)/deps > $(WEB_DIR)/sources.env

web: build web-sources
	. $(WEB_DIR)/sources.env && wasm/build_sdl2.sh "$$SDL2" $(WEB_ABS)/sdl2
	. $(WEB_DIR)/sources.env && test -f $(WEB_DIR)/cmake/build.ninja || $(EMENV) emcmake cmake -S . -B $(WEB_DIR)/cmake \
	  -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_C_FLAGS="-pthread -msimd128 -mbulk-memory -fexceptions" -DCMAKE_CXX_FLAGS="-pthread -msimd128 -mbulk-memory -fexceptions" \
	  -Dnlohmann_json_DIR=$(CURDIR)/wasm/cmake -DDMC_IMGUI_SOURCE_DIR="$$IMGUI" \
	  -DDMC_SDL2_PREFIX=$(WEB_ABS)/sdl2 -DDMC_WEB_OUT=$(WEB_ABS)/www
	$(EMENV) cmake --build $(WEB_DIR)/cmake
	@test -f $(WEB_DIR)/www/data/t10k-images-idx3-ubyte || { \
	  test -d "$(MNIST_DIR)" || { echo "MNIST folder $(MNIST_DIR) not found: set MNIST_DIR"; exit 1; }; \
	  $(BUILD_DIR)/engine/dmc data --mnist "$(MNIST_DIR)" --out $(WEB_DIR)/www/data; }
	@test -d $(WEB_DIR)/node/node_modules/playwright-core || { mkdir -p $(WEB_DIR)/node && \
	  cp tests/browser/package.json $(WEB_DIR)/node/ && \
	  (cd $(WEB_DIR)/node && npm install --no-audit --no-fund --loglevel=error); }

# The native window (dmc-app), from the same app/ source.
app: build web-sources
	. $(WEB_DIR)/sources.env && cmake -S . -B $(BUILD_DIR) -DDMC_IMGUI_SOURCE_DIR="$$IMGUI" -DDMC_WEB_DIR=$(WEB_ABS) > /dev/null
	cmake --build $(BUILD_DIR)

# The README's main command: build the web app and serve it on 127.0.0.1.
serve: web
	$(PYTHON) wasm/serve.py $(WEB_DIR)/www --port $(PORT)

# The speed figures, measured in headless Chromium (tests/browser/bench.cjs).
bench-web: web
	NODE_PATH=$(WEB_ABS)/node/node_modules node tests/browser/bench.cjs $(WEB_DIR)/www

# The engine against ONNX Runtime (onnxruntime-node) on the same model and
# MNIST test images, one thread; see engine/bench/README.md. Optional:
# MODEL=FILE (default assets/lenet5.json), LIMIT=N images, REPEAT=R runs.
bench: build
	BUILD_DIR=$(BUILD_DIR) PYTHON=$(PYTHON) bash engine/bench/bench.sh \
	  $(if $(MODEL),--model $(MODEL)) $(if $(LIMIT),--limit $(LIMIT)) $(if $(REPEAT),--repeat $(REPEAT))

clean:
	rm -rf $(BUILD_DIR) $(WEB_DIR)/cmake $(WEB_DIR)/www
