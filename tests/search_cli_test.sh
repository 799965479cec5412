#!/usr/bin/env bash
# dmc search: help, a met budget whose -o config dmc eval --config reads
# with the figures search printed (LeNet-5, and a depthwise-separable
# model), an unmeetable budget, bad numbers.
# usage: search_cli_test.sh PATH/TO/dmc REPO_ROOT     (MNIST_DIR must be set)
set -u
dmc=$1
root=$2
model=$root/assets/lenet5.json
source "$(dirname "$0")/cli_lib.sh"

"$dmc" search --help >"$tmp/out" 2>&1 || fail "dmc search --help exits non-zero"
grep -q "usage: dmc search" "$tmp/out" || fail "dmc search --help prints no usage"
"$dmc" --help | grep -q "  search " || fail "dmc --help does not list search"

# A met budget, small and quick: bits 8,4 and keep 1,0.5, 300 subset images,
# 3 finalists confirmed on all test images.
if "$dmc" search --model "$model" --flash 20000 --bits 8,4 --keep 1,0.5 --subset 300 --finalists 3 --json \
    -o "$tmp/best.json" >"$tmp/search.json" 2>"$tmp/err"; then
    python3 - "$tmp/search.json" "$tmp/best.json" <<'PY' || fail "dmc search --json: bad output"
import json, sys
out = json.load(open(sys.argv[1]))
best = json.load(open(sys.argv[2]))
assert out["best"]["flash_bytes"] <= 20000, out["best"]
assert out["best"]["config"] == best, (out["best"]["config"], best)
assert out["budget"]["flash_bytes"] == 20000 and out["budget"]["peak_ram_bytes"] is None
assert out["subset_images"] == 300 and out["test_images"] == 10000
assert out["evaluated"] > 3 and out["confirmed"] == 3, (out["evaluated"], out["confirmed"])
assert out["front_resource"] == "flash_bytes" and out["front"], out["front"]
flashes = [p["flash_bytes"] for p in out["front"]]
assert flashes == sorted(flashes) and max(flashes) <= 20000
print(out["best"]["flash_bytes"], out["best"]["peak_ram_bytes"], out["best"]["macs"], out["best"]["accuracy"])
PY
    # dmc eval reads the config and reports the figures search gave.
    if "$dmc" eval --model "$model" --config "$tmp/best.json" --json >"$tmp/eval.json" 2>"$tmp/err"; then
        python3 - "$tmp/search.json" "$tmp/eval.json" <<'PY' || fail "dmc eval of the search's config disagrees"
import json, sys
s = json.load(open(sys.argv[1]))["best"]
e = json.load(open(sys.argv[2]))
for k in ("flash_bytes", "peak_ram_bytes", "macs", "accuracy"):
    assert s[k] == e[k], (k, s[k], e[k])
PY
    else
        fail "dmc eval --config of the search's config: $(cat "$tmp/err")"
    fi
else
    fail "dmc search --flash 20000: $(cat "$tmp/err")"
fi

# A depthwise-separable model (depthwise layers take bits only; their
# channels follow the layer before), screened with 100 calibration images:
# the finalists use all of them, so dmc eval gives the same figures.
dwmodel=$tmp/dwsep.json
python3 "$root/tests/export/make_depthwise_model.py" >"$dwmodel" || fail "make_depthwise_model.py"
if "$dmc" search --model "$dwmodel" --flash 600 --bits 8,2 --keep 1,0.5 --subset 200 --screen-calibration 100 --threads 2 \
    --json -o "$tmp/dw.best.json" >"$tmp/dw.search.json" 2>"$tmp/err"; then
    "$dmc" eval --model "$dwmodel" --config "$tmp/dw.best.json" --json >"$tmp/dw.eval.json" 2>"$tmp/err" ||
        fail "dmc eval of the depthwise search's config: $(cat "$tmp/err")"
    python3 - "$tmp/dw.search.json" "$tmp/dw.eval.json" "$tmp/dw.best.json" <<'PY' || fail "depthwise search: dmc eval disagrees"
import json, sys
s = json.load(open(sys.argv[1]))["best"]
e = json.load(open(sys.argv[2]))
layers = json.load(open(sys.argv[3])).get("layers", {})
assert s["flash_bytes"] <= 600, s
for k in ("flash_bytes", "peak_ram_bytes", "macs", "accuracy"):
    assert s[k] == e[k], (k, s[k], e[k])
assert "bits" in layers["dw1"] and "keep" not in layers["dw1"], layers
PY
else
    fail "dmc search of a depthwise model: $(cat "$tmp/err")"
fi

# The table: the chosen config, its figures, the front.
"$dmc" search --model "$model" --macs 400000 --bits 8,4 --keep 1,0.5 --subset 300 >"$tmp/out" 2>"$tmp/err" ||
    fail "dmc search --macs: $(cat "$tmp/err")"
for needle in "best: " "accuracy" "flash" "peak RAM" "MACs" "configurations scored" "front: MACs"; do
    grep -qF "$needle" "$tmp/out" || fail "dmc search table lacks '$needle'"
done

# Unmeetable: the smallest reachable figures, named.
expect_error "unmeetable flash" "smallest reachable are flash 1,647 bytes" "$dmc" search --model "$model" --flash 1000
expect_error "unmeetable RAM" "no configuration meets peak RAM <= 100 bytes" "$dmc" search --model "$model" --ram 100

# Bad numbers and options, refused before any work.
expect_error "no budget" "give a budget" "$dmc" search --model "$model"
for bad in 0 -5 1e10 nan 12.5 99999999999; do
    expect_error "--flash $bad" "option --flash: '$bad' is not an integer" "$dmc" search --model "$model" --flash "$bad"
done
expect_error "--ram x" "option --ram: 'x' is not an integer" "$dmc" search --model "$model" --ram x
expect_error "--macs -1" "option --macs: '-1' is not an integer" "$dmc" search --model "$model" --macs -1
expect_error "--finalists 0" "option --finalists: '0' is not an integer" "$dmc" search --model "$model" --flash 20000 --finalists 0
for bad in nan -1 101 inf; do
    expect_error "--max-drop $bad" "option --max-drop: '$bad'" "$dmc" search --model "$model" --max-drop "$bad"
done
expect_error "--bits 3" "option --bits: 3 is not one of 8, 4, 2" "$dmc" search --model "$model" --flash 9000 --bits 8,3
expect_error "--bits 32" "option --bits: '32'" "$dmc" search --model "$model" --flash 9000 --bits 32
expect_error "--keep 0" "option --keep: 0 is outside (0, 1]" "$dmc" search --model "$model" --flash 9000 --keep 1,0
expect_error "--keep 1.5" "option --keep: '1.5' is outside" "$dmc" search --model "$model" --flash 9000 --keep 1.5
expect_error "--screen-calibration -1" "option --screen-calibration: '-1' is not an integer" \
    "$dmc" search --model "$model" --flash 9000 --screen-calibration -1
expect_error "--threads 0" "option --threads: '0' is not an integer" "$dmc" search --model "$model" --flash 9000 --threads 0
expect_error "--threads 99" "option --threads: '99' is not an integer" "$dmc" search --model "$model" --flash 9000 --threads 99
expect_error "--subset 0" "option --subset: '0' is not an integer" "$dmc" search --model "$model" --flash 9000 --subset 0

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "search cli: all passed"
