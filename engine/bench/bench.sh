#!/usr/bin/env bash
# Times the engine (dmc bench) and ONNX Runtime (onnxruntime-node) on the
# same model and the same MNIST test images, and prints one table.
# See README.md in this folder; `make bench` runs it.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bash engine/bench/bench.sh [--model FILE] [--limit N] [--repeat R]

Builds the engine if needed, exports the model to ONNX (build/bench/),
installs onnxruntime-node there if missing, then times, on one thread:
  dmc bench       the float reference and the model at 8, 4 and 2 bits,
                  one image at a time and in batches of 64
  ort_bench.mjs   ONNX Runtime on the same model, one image at a time and
                  in batches of 1000: onnxruntime-node, then onnxruntime-web
                  (its WebAssembly build, the browser's peer)
and prints one table with microseconds per image, images per second,
accuracy, and the speed relative to dmc's float reference and to ONNX
Runtime one image at a time and batched.

  --model FILE   the dmc model file (default assets/lenet5.json)
  --limit N      time the first N test images only (default all 10,000)
  --repeat R     runs of each, the fastest counts (default 3)

Environment: MNIST_DIR (required) the folder with the MNIST IDX files;
BUILD_DIR (default build), PYTHON (default /usr/bin/python3, needs torch
and onnx), NODE (default node), NPM (default npm).
EOF
}

die() {
  echo "bench: $*" >&2
  exit 1
}
say() { echo "bench: $*" >&2; }

ORT_VERSION=1.30.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/engine/bench"

model=""
limit=""
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --model|--limit|--repeat)
      [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"
      case "$1" in
        --model) model=$2 ;;
        --limit) limit=$2 ;;
        --repeat) repeat=$2 ;;
      esac
      shift 2 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
if [ -n "$limit" ] && ! [[ "$limit" =~ ^[1-9][0-9]{0,7}$ ]]; then
  die "--limit must be a whole number from 1, not '$limit'"
fi
[[ "$repeat" =~ ^[1-9][0-9]{0,2}$ ]] || die "--repeat must be a whole number from 1 to 999, not '$repeat'"

PYTHON=${PYTHON:-/usr/bin/python3}
NODE=${NODE:-node}
NPM=${NPM:-npm}
command -v cmake >/dev/null || die "cmake not found (run 'make deps')"
command -v "$NODE" >/dev/null || die "'$NODE' not found: Node.js 18 or later is needed for onnxruntime-node"
command -v "$PYTHON" >/dev/null || die "'$PYTHON' not found: set PYTHON to a Python with torch and onnx"

# Paths given on the command line are relative to where it was typed; the
# default model is relative to the repository.
if [ -z "$model" ]; then model="$root/assets/lenet5.json"; fi
[ -f "$model" ] || die "model file '$model' not found"
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")

# Only MNIST classifiers: the ONNX side reads MNIST and scores by argmax.
"$NODE" -e '
  const file = process.argv[1];
  let m;
  try { m = JSON.parse(require("fs").readFileSync(file, "utf8")); }
  catch (e) { console.error(`bench: model file ${file}: ${e.message}`); process.exit(1); }
  const task = m.task ?? "classification", data = m.dataset ?? (task === "classification" ? "mnist" : "sine");
  if (task !== "classification" || data !== "mnist") {
    console.error(`bench: ${file} is a ${task} model on ${data}; the benchmark times MNIST classifiers only`);
    process.exit(1);
  }' "$model" || exit 1

[ -n "${MNIST_DIR:-}" ] || die "MNIST_DIR is not set: point it at the folder with the MNIST IDX files (t10k-images-idx3-ubyte.gz etc.), or run 'make bench'"
[ -d "$MNIST_DIR" ] || die "MNIST_DIR '$MNIST_DIR' is not a folder"
mnist=$(cd "$MNIST_DIR" && pwd)

cd "$root"
build=${BUILD_DIR:-build}
out="$build/bench"

# 1. The engine.
if [ ! -f "$build/build.ninja" ] && [ ! -f "$build/Makefile" ]; then
  say "configuring $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || die "cmake could not configure $build"
fi
cmake --build "$build" >&2 || die "the engine does not build"
dmc="$build/engine/dmc"
[ -x "$dmc" ] || die "$dmc was not built"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# 2. The ONNX file, made again when the model file (or the exporter) is newer
#    or it was made from another model file.
name=$(basename "$model" .json)
onnx="$out/$name.onnx"
if [ ! -f "$onnx" ] || [ "$model" -nt "$onnx" ] || [ "$root/python/dmc/onnx_export.py" -nt "$onnx" ] ||
   [ "$(cat "$onnx.source" 2>/dev/null)" != "$model" ]; then
  say "exporting $model to $onnx"
  rm -f "$onnx" "$onnx.source"
  (cd "$root/python" && "$PYTHON" -m dmc onnx --model-file "$model" -o "$onnx.tmp") >&2 ||
    { rm -f "$onnx.tmp"; die "the ONNX export failed (needs torch and onnx in $PYTHON)"; }
  mv "$onnx.tmp" "$onnx"
  echo "$model" > "$onnx.source"
fi

# 3. onnxruntime-node, in build/bench. Its install script would download GPU
#    binaries; the CPU ones are in the package, so it is skipped.
installed=$(cd "$out" && "$NODE" -p "require('./node_modules/onnxruntime-node/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$ORT_VERSION" ]; then
  command -v "$NPM" >/dev/null || die "'$NPM' not found: it is needed once, to install onnxruntime-node"
  say "installing onnxruntime-node@$ORT_VERSION into $out"
  [ -f "$out/package.json" ] || echo '{"name": "dmc-bench", "private": true, "description": "onnxruntime-node for engine/bench"}' > "$out/package.json"
  (cd "$out" && "$NPM" install --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-node@$ORT_VERSION") >&2 ||
    die "npm could not install onnxruntime-node@$ORT_VERSION into $out"
fi
# onnxruntime-web too: ONNX Runtime's WebAssembly build, the browser's peer.
installed=$(cd "$out" && "$NODE" -p "require('./node_modules/onnxruntime-web/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$ORT_VERSION" ]; then
  command -v "$NPM" >/dev/null || die "'$NPM' not found: it is needed once, to install onnxruntime-web"
  say "installing onnxruntime-web@$ORT_VERSION into $out"
  (cd "$out" && "$NPM" install --ignore-scripts --no-audit --no-fund --loglevel=error "onnxruntime-web@$ORT_VERSION") >&2 ||
    die "npm could not install onnxruntime-web@$ORT_VERSION into $out"
fi

# 4. The two benchmarks, one after the other, with the same images. Other
#    work on the machine skews the figures: the load average is reported.
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || true)
args=(--repeat "$repeat")
[ -n "$limit" ] && args+=(--limit "$limit")
say "timing dmc ($dmc bench ${args[*]})"
"$dmc" bench --model "$model" --mnist "$mnist" --json "${args[@]}" > "$out/dmc.json" || die "dmc bench failed"
say "timing ONNX Runtime (ort_bench.mjs ${args[*]})"
"$NODE" "$here/ort_bench.mjs" --onnx "$onnx" --model-file "$model" --mnist "$mnist" --ort "$out" --json "${args[@]}" \
  > "$out/ort.json" || die "the ONNX Runtime benchmark failed"
say "timing onnxruntime-web (ort_bench.mjs --runtime web ${args[*]})"
"$NODE" "$here/ort_bench.mjs" --runtime web --onnx "$onnx" --model-file "$model" --mnist "$mnist" --ort "$out" --json \
  "${args[@]}" > "$out/ort-web.json" || die "the onnxruntime-web benchmark failed"

# 5. The table.
cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//' || true)
logical=$(nproc 2>/dev/null || echo '?')
physical=$(awk -F': *' '/^physical id/ {p=$2} /^core id/ {seen[p "/" $2]=1} END {n=0; for (k in seen) n++; if (n) print n}' /proc/cpuinfo 2>/dev/null || true)
echo
echo "machine: ${cpu:-unknown CPU}, $logical logical CPUs${physical:+ ($physical physical cores)}"
echo "date:    $(date '+%Y-%m-%d %H:%M %Z'), load average before timing: ${load:-?}"
echo "All figures are for one thread (dmc is single-threaded; ONNX Runtime runs with intra- and inter-op threads = 1)."
echo
"$NODE" "$here/table.mjs" "$out/dmc.json" "$out/ort.json" "$out/ort-web.json" || die "could not combine the results"
