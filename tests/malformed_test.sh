#!/usr/bin/env bash
# Every case of issue 11's malformed-input campaign, through dmc and, for
# the model files, through python -m dmc: each must end in a clear error
# (exit status 1-127, a message naming the problem, stderr under 4 KB)
# within a time limit, or, where the input is only unusual, succeed.
# usage: malformed_test.sh PATH/TO/dmc REPO_ROOT [PYTHON]   (MNIST_DIR must be set)
set -u
dmc=$1
root=$2
python=${3:-}
model=$root/assets/lenet5.json
source "$(dirname "$0")/cli_lib.sh"
checked=0

# refused: expect_error (cli_lib.sh), counted.
refused() {
    checked=$((checked + 1))
    expect_error "$@"
}

# Both dmc (eval) and, when PYTHON is given, python -m dmc evaluate refuse
# the model file; python's message only has to name the same problem.
refused_both() {
    local what=$1 needle=$2 python_needle=$3 file=$4
    refused "dmc: $what" "$needle" "$dmc" eval --model "$file" --limit 10
    [ -n "$python" ] || return
    refused "python: $what" "$python_needle" env PYTHONPATH="$root/python" DMC_BIN="$dmc" \
        "$python" -m dmc evaluate --model "$file"
    if grep -q "Traceback" "$tmp/err"; then fail "python: $what: a traceback"; fi
}

# edit OUT 'python expression on d (the lenet5 document)': writes a variant.
edit() {
    python3 - "$model" "$1" "$2" <<'PY'
import base64, json, sys
import array
d = json.load(open(sys.argv[1]))
layer = {l["name"]: l for l in d["layers"]}
def floats(text): a = array.array("f"); a.frombytes(base64.b64decode(text)); return a
def b64(a): return base64.b64encode(a.tobytes()).decode()
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
}

# 1. Numbers past a double, in a model and in a config.
echo '{"format": 1e999}' >"$tmp/big_number.json"
refused "1e999 in a model" "not valid JSON" "$dmc" info --model "$tmp/big_number.json"
refused "1e400 in a config" "not valid JSON" "$dmc" eval --model "$model" --config <(echo '{"default":{"keep":1e400}}')

# 2. Deep nesting in metadata.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d["metadata"] = "HOLE"
text = json.dumps(d)
print(text.replace("\"HOLE\"", "[" * 100000 + "]" * 100000))' "$model" >"$tmp/deep.json"
refused_both "metadata nested 100,000 deep" "nested deeper than 64" "nested" "$tmp/deep.json"

# 3 and 11. Empty test sets, and images of the right pixel count but the
# wrong shape: refused before anything is compressed.
mkdir "$tmp/empty" "$tmp/wide"
printf '\0\0\10\3\0\0\0\0\0\0\0\34\0\0\0\34' >"$tmp/empty/t10k-images-idx3-ubyte"
printf '\0\0\10\1\0\0\0\0' >"$tmp/empty/t10k-labels-idx1-ubyte"
ln -s "$MNIST_DIR"/train-images-idx3-ubyte.gz "$MNIST_DIR"/train-labels-idx1-ubyte.gz "$tmp/empty/"
refused "export --lib, empty test set" "test set holds no inputs" "$dmc" export --model "$model" --mnist "$tmp/empty" --lib "$tmp/lib"
refused "eval, empty test set" "test set holds no inputs" "$dmc" eval --model "$model" --mnist "$tmp/empty"
refused "infer, empty test set" "test set holds no inputs" "$dmc" infer --model "$model" --mnist "$tmp/empty" -o "$tmp/o.bin"
[ -e "$tmp/o.bin" ] && fail "infer wrote an output file for an empty test set"
gzip -dc "$MNIST_DIR/train-images-idx3-ubyte.gz" | python3 -c '
import sys
data = bytearray(sys.stdin.buffer.read()); data[8:16] = bytes([0, 0, 0, 14, 0, 0, 0, 56])
open(sys.argv[1], "wb").write(data)' "$tmp/wide/train-images-idx3-ubyte"
ln -s "$MNIST_DIR"/train-labels-idx1-ubyte.gz "$MNIST_DIR"/t10k-* "$tmp/wide/"
refused "14x56 training images" "the MNIST training set holds 1x14x56" "$dmc" eval --model "$model" --mnist "$tmp/wide"

# 4. Numeric options out of range (cli_test.sh has the full list).
refused "--bits 1e10" "is not an integer in [2, 32]" "$dmc" sweep --model "$model" --layer conv1 --bits 1e10

# 5. Work: 2.2 G MACs in one layer.
edit "$tmp/heavy.json" '
d["layers"] = [{"name": "c1", "type": "conv2d", "in_channels": 1, "out_channels": 64, "kernel": 64,
                "padding": 63, "weight": b64(array.array("f", [0.01] * (64 * 64 * 64)))},
               {"name": "p", "type": "maxpool2d", "kernel": 64}, {"name": "f", "type": "flatten"},
               {"name": "l", "type": "linear", "in_features": 64, "out_features": 10,
                "weight": b64(array.array("f", [0.01] * 640))}]'
refused_both "2.2 G MACs per inference" "exceed the limit of 268,435,456" "MACs" "$tmp/heavy.json"

# 7. A near-zero weight row is not an error (it gets the layer's scale).
edit "$tmp/tiny_row.json" '
w = floats(layer["conv2"]["weight"]); n = len(w) // 16
top = max(abs(v) for v in w[3 * n:4 * n])
for i in range(3 * n, 4 * n): w[i] *= 3e-8 / top
layer["conv2"]["weight"] = b64(w)'
checked=$((checked + 1))
"$dmc" eval --model "$tmp/tiny_row.json" --limit 100 >"$tmp/out" 2>"$tmp/err" || fail "near-zero row: $(cat "$tmp/err")"

# 8. base64 one character too long: exact counts.
edit "$tmp/b64.json" 'layer["fc3"]["weight"] += "A"'
refused_both "base64 one character long" "4481 characters of base64 (not a whole number of 4-character groups), but the shape needs 840 floats: 3360 bytes, 4480 characters" "weight" "$tmp/b64.json"

# 9. An input shape the data set does not have.
edit "$tmp/rgb.json" '
d["input"]["channels"] = 3; c = layer["conv1"]; c["in_channels"] = 3
w = floats(c["weight"]); c["weight"] = b64(array.array("f", [v for v in w for _ in range(3)]))'
for cmd in eval export sweep; do
    extra=""
    [ $cmd = export ] && extra="-o $tmp/rgb.h"
    [ $cmd = sweep ] && extra="--layer conv1"
    refused "3x28x28 input, $cmd" "takes 3x28x28 inputs" "$dmc" $cmd --model "$tmp/rgb.json" $extra
done

# 10. What an error quotes is capped, and names are escaped.
head -c 700000 "$root/assets/lenet5_caffe.json" >"$tmp/truncated.json"
refused "700 KB truncated model" "not valid JSON" "$dmc" info --model "$tmp/truncated.json"
edit "$tmp/long_string.json" 'd["layers"][0]["type"] = "x" * 20000000'
refused "20 MB layer type" "characters)" "$dmc" info --model "$tmp/long_string.json"
edit "$tmp/newline.json" 'd["name"] = "bad\nname\u0000"'
refused_both "newline and NUL in the name" "'bad\\nname\\x00'" "name" "$tmp/newline.json"

# 11. A raw range MNIST does not have, and weights that overflow float32.
edit "$tmp/range.json" 'd["input"]["max"] = 255'
refused_both "input range [0, 255] on MNIST" "is not MNIST's [0, 1]" "[0, 1]" "$tmp/range.json"
# In fc1 the overflow is hidden from the output: inf, then NaN, which the
# ReLU turns into 0. Every step of the float model is checked.
for name in conv1 fc1; do
    edit "$tmp/huge.json" "
w = floats(layer['$name']['weight']); top = max(abs(v) for v in w)
layer['$name']['weight'] = b64(array.array('f', [v * 1e38 / top for v in w]))"
    refused_both "1e38 weights in $name" "step '$name' gives a value that is not finite" "finite" "$tmp/huge.json"
done

# 12. What python and the engine used to disagree on.
edit "$tmp/std.json" 'd["input"]["std"] = 1e-50'
refused_both "std 1e-50" "std 1e-50 is outside [1e-06, 1e+06]" "std" "$tmp/std.json"
edit "$tmp/two_class.json" '
l = layer["fc3"]; l["out_features"] = 2
l["weight"] = b64(floats(l["weight"])[:2 * 84]); l["bias"] = b64(floats(l["bias"])[:2])'
refused_both "2 classes on MNIST" "has 2 outputs; MNIST has 10 classes" "10" "$tmp/two_class.json"
edit "$tmp/version.json" 'd["version"] = 1.0'
refused_both "version 1.0" "must be an integer" "version" "$tmp/version.json"

echo "$checked cases checked, $failures failures"
[ $failures -eq 0 ]
