#!/usr/bin/env bash
# The dmc command line: help on every command, clear errors with a non-zero
# exit for bad model, config and IDX input, and the JSON report's fields.
# usage: cli_test.sh PATH/TO/dmc REPO_ROOT     (MNIST_DIR must be set)
set -u
dmc=$1
root=$2
model=$root/assets/lenet5.json
source "$(dirname "$0")/cli_lib.sh"

for cmd in info eval sweep bench infer; do
    "$dmc" "$cmd" --help >"$tmp/out" 2>&1 || fail "dmc $cmd --help exits non-zero"
    grep -q "usage: dmc $cmd" "$tmp/out" || fail "dmc $cmd --help prints no usage"
done
"$dmc" --help | grep -q "commands:" || fail "dmc --help lists no commands"
expect_error "no command" "usage" "$dmc"
expect_error "unknown command" "unknown command 'frobnicate'" "$dmc" frobnicate
expect_error "unknown option" "unknown option '--modle'" "$dmc" info --modle "$model"
expect_error "missing option" "missing required option --model" "$dmc" info

# Bad model files.
echo '{"format": "dmc-model", "version": 7}' >"$tmp/v7.json"
expect_error "wrong version" "version 7 is not supported" "$dmc" info --model "$tmp/v7.json"
head -c 1000 "$model" >"$tmp/truncated.json"
expect_error "truncated model" "not valid JSON" "$dmc" info --model "$tmp/truncated.json"
expect_error "missing model" "no such file" "$dmc" info --model "$tmp/none.json"
sed 's/"conv2d"/"conv3d"/' "$model" >"$tmp/unknown.json"
expect_error "unknown layer type" "unknown layer type 'conv3d'" "$dmc" info --model "$tmp/unknown.json"

# Bad configs.
echo '{"layers": {"conv9": {"bits": 4}}}' >"$tmp/c1.json"
expect_error "unknown layer in config" "has no layer 'conv9'" "$dmc" eval --model "$model" --config "$tmp/c1.json"
echo '{"default": {"bits": 5}}' >"$tmp/c2.json"
expect_error "bad bits" "bits 5 is not supported" "$dmc" eval --model "$model" --config "$tmp/c2.json"
echo '{"layers": {"conv2": {"keep": 0}}}' >"$tmp/c3.json"
expect_error "bad keep" "outside (0, 1]" "$dmc" eval --model "$model" --config "$tmp/c3.json"
echo '{"layers": {"fc3": {"keep": 0.5}}}' >"$tmp/c4.json"
expect_error "pruned output layer" "output layer" "$dmc" eval --model "$model" --config "$tmp/c4.json"
expect_error "bad limit" "not an integer" "$dmc" eval --model "$model" --limit ten
# Numbers are range-checked before any conversion (1e10 as an int is UB).
for bad in 1e10 nan inf -2147483649 4.5; do
    expect_error "--bits $bad" "option --bits: '$bad' is not an integer" "$dmc" sweep --model "$model" --layer conv1 --bits "$bad"
done
for bad in nan inf -0.5 1.5 1e400; do
    expect_error "--keep $bad" "option --keep: '$bad'" "$dmc" sweep --model "$model" --layer conv1 --keep "$bad"
done
expect_error "--limit too large" "not an integer in [1, 100000000]" "$dmc" eval --model "$model" --limit 99999999999999999999

# Bad MNIST folders.
expect_error "missing MNIST folder" "pass --mnist DIR or set MNIST_DIR" "$dmc" eval --model "$model" --mnist "$tmp/nowhere"
mkdir "$tmp/mnist"
cp "$MNIST_DIR"/t10k-labels-idx1-ubyte.gz "$MNIST_DIR"/train-* "$tmp/mnist/"
head -c 100000 "$MNIST_DIR/t10k-images-idx3-ubyte.gz" >"$tmp/mnist/t10k-images-idx3-ubyte.gz"
expect_error "truncated IDX" "truncated or corrupt gzip" "$dmc" eval --model "$model" --mnist "$tmp/mnist"
(env -u MNIST_DIR "$dmc" eval --model "$model" >/dev/null 2>"$tmp/err"; true)
grep -q "set MNIST_DIR" "$tmp/err" || fail "no MNIST folder given: unclear error"

# A model or config that is a stream (stat says size 0): process
# substitution, /dev/stdin, a pipe. Each must give what the file gives.
accuracy() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["accuracy"], r["float_accuracy"])'; }
echo '{"default": {"bits": 4}}' >"$tmp/c4bit.json"
from_file=$("$dmc" eval --model "$model" --config "$tmp/c4bit.json" --limit 200 --json | accuracy)
[ -n "$from_file" ] || fail "dmc eval with a config file gave no accuracy"
got=$("$dmc" eval --model "$model" --config <(echo '{"default": {"bits": 4}}') --limit 200 --json | accuracy)
[ "$got" = "$from_file" ] || fail "config through process substitution: '$got', from the file: '$from_file'"
got=$(echo '{"default": {"bits": 4}}' | "$dmc" eval --model "$model" --config /dev/stdin --limit 200 --json | accuracy)
[ "$got" = "$from_file" ] || fail "config through /dev/stdin: '$got', from the file: '$from_file'"
got=$(cat "$model" | "$dmc" eval --model /dev/stdin --config "$tmp/c4bit.json" --limit 200 --json | accuracy)
[ "$got" = "$from_file" ] || fail "model through a pipe: '$got', from the file: '$from_file'"
expect_error "model is a directory" "is a directory" "$dmc" info --model "$tmp"
head -c 1000 "$model" >"$tmp/truncated.json"
expect_error "truncated model through a pipe" "not valid JSON" "$dmc" info --model <(cat "$tmp/truncated.json")

# The JSON report.
"$dmc" eval --model "$model" --limit 300 --json >"$tmp/report.json" || fail "dmc eval --json failed"
python3 - "$tmp/report.json" <<'PY' || fail "JSON report is missing fields"
import json, sys
r = json.load(open(sys.argv[1]))
for key in ["float_accuracy", "accuracy", "flash_bytes", "peak_ram_bytes", "macs", "layers"]:
    assert key in r, key
assert 0 <= r["accuracy"] <= 1 and 0 <= r["float_accuracy"] <= 1
assert r["images"] == 300
for layer in r["layers"]:
    for key in ["name", "bits", "keep", "params", "flash_bytes", "weight_sqnr_db", "output_sqnr_db"]:
        assert key in layer, key
assert [l["name"] for l in r["layers"]] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
PY

"$dmc" sweep --model "$model" --layer fc3 --bits 8 --keep 1 --limit 100 --json >"$tmp/sweep.json" || fail "dmc sweep failed"
grep -q '"by_bits"' "$tmp/sweep.json" || fail "sweep JSON lacks by_bits"

"$dmc" bench --model "$model" --limit 50 --repeat 1 --json >"$tmp/bench.json" || fail "dmc bench failed"
python3 - "$tmp/bench.json" <<'PY' || fail "bench JSON is wrong"
import json, sys
b = json.load(open(sys.argv[1]))
runs = b["runs"]
# The variants the engine chose, one per op with several (conv2d, linear, max pooling, depthwise).
assert len(b["kernels"].split()) == 4 and b["kernels"].startswith("conv2d_s8_"), b["kernels"]
# One image at a time, then in batches (64, or all 50 images when fewer).
assert [r["name"] for r in runs] == ["float", "int8", "int8, batch 50", "int4", "int4, batch 50", "int2",
                                     "int2, batch 50"], [r["name"] for r in runs]
assert [r["batch"] for r in runs] == [1, 1, 50, 1, 50, 1, 50]
assert all(r["us_per_image"] > 0 for r in runs)
for one, many in zip(runs[1::2], runs[2::2]):
    assert one["accuracy"] == many["accuracy"], (one, many)
PY
"$dmc" bench --model "$model" --limit 50 --repeat 1 --batch 0 >/dev/null 2>&1 && fail "dmc bench --batch 0 was accepted"

"$dmc" infer --model "$model" --limit 20 -o "$tmp/out.bin" --params "$tmp/params.json" >"$tmp/infer.json" \
    || fail "dmc infer failed"
[ "$(stat -c %s "$tmp/out.bin")" = 200 ] || fail "dmc infer wrote $(stat -c %s "$tmp/out.bin") bytes, not 20 x 10"
grep -q '"dtype": "int8"' "$tmp/infer.json" || fail "dmc infer: no dtype line"
grep -q '"multiplier"' "$tmp/params.json" || fail "dmc infer --params: no multipliers"

if [ $failures -ne 0 ]; then
    echo "$failures CLI check(s) failed"
    exit 1
fi
echo "all CLI checks passed"
