#!/usr/bin/env bash
# Builds SDL2 as a WebAssembly static library (emscripten's own SDL2 port
# would download its source, which this build cannot), once: installs it into
# PREFIX and does nothing when PREFIX/lib/libSDL2.a exists.
#
#   wasm/build_sdl2.sh SDL2_SOURCE_DIR PREFIX
#
# Compiled with -pthread: every object of a wasm link that shares memory
# between threads must be built with atomics, SDL included (the workbench
# evaluates on a worker thread). SDL's own threads stay off; it is only the
# window, input and GL context.
set -euo pipefail
SRC="$1"
PREFIX="$2"
[ -f "$PREFIX/lib/libSDL2.a" ] && exit 0
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"
BUILD="$PREFIX-build"
echo "building SDL2 for WebAssembly (once, a few minutes): $SRC -> $PREFIX"
emcmake cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-pthread" -DSDL_SHARED=OFF -DSDL_STATIC=ON -DSDL_TEST=OFF \
    -DSDL_PTHREADS=OFF -DSDL_THREADS=OFF -DCMAKE_INSTALL_PREFIX="$PREFIX" > "$PREFIX.log" 2>&1 ||
    { tail -30 "$PREFIX.log"; exit 1; }
cmake --build "$BUILD" >> "$PREFIX.log" 2>&1 || { tail -30 "$PREFIX.log"; exit 1; }
cmake --install "$BUILD" >> "$PREFIX.log" 2>&1 || { tail -30 "$PREFIX.log"; exit 1; }
rm -rf "$BUILD"
