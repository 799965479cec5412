#!/usr/bin/env bash
# Builds the fuzz targets with clang (ASan + UBSan + libFuzzer) and runs
# each on its seed corpus (corpus/, plus IDX files made here) and what
# earlier runs found (kept in the build folder). The ONNX seeds are written
# by corpus/onnx/make_seeds.py (torch.onnx.export; run it to regenerate).
#
#   tests/fuzz/run.sh [--runs N | --seconds S] [BUILD_DIR]
#
# CI runs a fixed number of executions from a fixed seed (--runs, the
# default 200,000 per target: about a minute each on 2 cores), so that a run
# is repeatable; --seconds S fuzzes each target for S seconds instead, for
# longer hunts. A crash leaves its input in BUILD_DIR/findings/ and fails;
# add it to corpus/ as a regression input once fixed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
limit=(-runs=200000 -seed=1)
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) limit=(-runs="$2" -seed=1); shift 2 ;;
        --seconds) limit=(-max_total_time="$2"); shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) break ;;
    esac
done
build=${1:-$root/build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)"; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
    CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DDMC_SANITIZE=ON -DDMC_FUZZ=ON -DDMC_BUILD_TESTS=OFF -DDMC_BUILD_APP=OFF > /dev/null
fi
cmake --build "$build" --target fuzz_model fuzz_config fuzz_idx fuzz_onnx > "$build/fuzz-build.log" 2>&1 ||
    { tail -30 "$build/fuzz-build.log"; exit 1; }

# IDX seeds: two 3x3 images and their labels, plain and gzip-compressed.
idx="$build/corpus/idx"
mkdir -p "$idx" "$build/findings"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x03\x00\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0\xff\x01' > "$idx/images"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x07\x03' > "$idx/labels"
gzip -c -n "$idx/images" > "$idx/images.gz"
gzip -c -n "$idx/labels" > "$idx/labels.gz"

status=0
for target in model config idx onnx; do
    found="$build/corpus/found-$target"
    mkdir -p "$found"
    seeds="$here/corpus/$target"
    [ "$target" = idx ] && seeds="$idx"
    echo "fuzz_$target: ${limit[*]}"
    if ! "$build/tests/fuzz/fuzz_$target" "$found" "$seeds" "${limit[@]}" \
        -max_len=65536 -timeout=20 -rss_limit_mb=2048 -artifact_prefix="$build/findings/$target-" \
        -print_final_stats=1 > "$build/fuzz-$target.log" 2>&1; then
        echo "fuzz_$target FAILED:"; tail -40 "$build/fuzz-$target.log"; status=1
    else
        grep -E "stat::number_of_executed_units|Done" "$build/fuzz-$target.log" | tail -2
    fi
done
exit $status
