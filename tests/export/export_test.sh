#!/usr/bin/env bash
# The exported header is the engine's twin: for LeNet-5 at 8, 4 and 2 bits
# with pruning, and for a depthwise-separable model (make_depthwise_model.py), the header compiled as C99 and as C++11 (-Wall -Wextra
# -Werror -pedantic) gives, on all 10,000 test images, exactly the int8
# outputs of `dmc infer`, through its static arena and through two caller
# arenas in turn (run_header.c). Also: the header from two translation
# units, and the --lib folder built with CMake, its example classifying its
# digit.
# usage: export_test.sh PATH/TO/dmc REPO_ROOT     (MNIST_DIR must be set)
set -euo pipefail
dmc=$1
root=$2
here=$root/tests/export
model=$root/assets/lenet5.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

gzip -dc "$MNIST_DIR/t10k-images-idx3-ubyte.gz" >"$tmp/t10k-images"
flags="-O2 -Wall -Wextra -Werror -pedantic"

check() { # name, config JSON
    local name=$1 config=$2
    echo "$config" >"$tmp/$name.json"
    "$dmc" export --model "$model" --config "$tmp/$name.json" --prefix model -o "$tmp/model.h"
    gcc -std=c99 $flags -I"$tmp" "$here/run_header.c" "$here/second_unit.c" -o "$tmp/run_c"
    g++ -std=c++11 $flags -x c++ -I"$tmp" "$here/run_header.c" -x c++ "$here/second_unit.c" -o "$tmp/run_cpp"
    "$dmc" infer --model "$model" --config "$tmp/$name.json" -o "$tmp/engine.bin" >/dev/null
    "$tmp/run_c" "$tmp/t10k-images" >"$tmp/header_c.bin"
    "$tmp/run_cpp" "$tmp/t10k-images" >"$tmp/header_cpp.bin"
    cmp "$tmp/engine.bin" "$tmp/header_c.bin"
    cmp "$tmp/engine.bin" "$tmp/header_cpp.bin"
    echo "$name: header (C99 and C++11) == engine on all $(($(stat -c %s "$tmp/engine.bin") / 10)) test images"
}

check int8 '{"default": {"bits": 8}}'
check int4_pruned '{"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.5}}}'
check int2_pruned '{"default": {"bits": 2}, "layers": {"conv1": {"bits": 8}, "conv2": {"keep": 0.75}, "fc1": {"keep": 0.25}}}'

# A depthwise-separable model (model file version 2): depthwise convolution
# at every bit width, ReLU6 fused and stand-alone, global average pooling,
# and pruning that passes through the depthwise layers.
lenet=$model
model=$tmp/dwsep.json
python3 "$here/make_depthwise_model.py" >"$model"
check dw_int8 '{"default": {"bits": 8}}'
check dw_int4_pruned '{"default": {"bits": 4}, "layers": {"conv1": {"keep": 0.5}, "pw1": {"keep": 0.75}}}'
check dw_int2 '{"default": {"bits": 2}, "layers": {"conv1": {"bits": 8}, "dw1": {"bits": 4}}}'
grep -q "dmc_depthwise_conv2d_s8_run" "$tmp/model.h"
grep -q "dmc_global_avgpool2d_s8_run" "$tmp/model.h"
grep -q "dmc_clamp_s8_run" "$tmp/model.h"
model=$lenet

# A layer left in float cannot be exported.
echo '{"layers": {"fc1": {"bits": 32}}}' >"$tmp/float.json"
if "$dmc" export --model "$model" --config "$tmp/float.json" -o "$tmp/x.h" 2>"$tmp/err"; then
    echo "FAIL: a float layer was exported"; exit 1
fi
grep -q "integer-only" "$tmp/err"

# The library folder builds with CMake and its example classifies its digit.
"$dmc" export --model "$model" --config "$tmp/int4_pruned.json" --lib "$tmp/lib"
for f in src/lenet5.h src/lenet5.c examples/main.c CMakeLists.txt library.properties; do
    [ -f "$tmp/lib/$f" ] || { echo "FAIL: --lib wrote no $f"; exit 1; }
done
cmake -S "$tmp/lib" -B "$tmp/lib/build" -DCMAKE_C_FLAGS="-std=c99 $flags" >/dev/null
cmake --build "$tmp/lib/build" >/dev/null
"$tmp/lib/build/lenet5_example"
echo "all export checks passed"
