#!/usr/bin/env bash
# Instructions per MAC of each layer of an exported model (LeNet-5, or the
# depthwise-separable asset: config "dsconv"), measured like
# footprint.sh (footprint_main.c, icount_plugin.c, one inference of test
# digit 0), with the exported header's model_run() cut into one counted
# region per layer: an ICOUNT_END(); ICOUNT_BEGIN(); pair after each layer
# call. The markers are compiler barriers for memory, so the code between
# them may differ slightly from footprint.sh's build; the sum of the rows is
# model_infer() plus its entry and exit (input copy, output copy).
#
# usage: layers.sh [PATH/TO/dmc [REPO_ROOT]]
#   CONFIGS (default "int8 int4 int2 dsconv"; mcu_env.sh names them),
#   VARIANTS (default "m4 m4_nodsp m0 m7"), OPT (default -O2), MNIST_DIR as
#   footprint.sh; MCU_JOBS the parallel builds and runs (default nproc).
# Prints, per config, one row per layer: MACs, then instructions and
# instructions/MAC for each variant; "total" is the whole region sum / MACs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${2:-$(cd "$here/../.." && pwd)}
dmc=${1:-$root/build/engine/dmc}
# shellcheck source=mcu_env.sh
source "$here/mcu_env.sh"
mcu_require_tools
MNIST_DIR=${MNIST_DIR:-$root/../shared/datasets/mnist}
if [ -n "${OPT:-}" ]; then MCU_CFLAGS="${MCU_CFLAGS/-O2/$OPT}"; fi
read -r -a configs <<<"${CONFIGS:-int8 int4 int2 dsconv}"
read -r -a variants <<<"${VARIANTS:-m4 m4_nodsp m0 m7}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mcu_mnist_subset "$tmp/mnist" 100
gcc -shared -fPIC -O2 -Wall -Wextra -o "$tmp/libicount.so" "$here/icount_plugin.c"
digit=$(mcu_images_flags "$tmp/mnist/t10k-images-idx3-ubyte" 0 1)

run_variant() { # CFG VARIANT
    local dir=$tmp/$1 v=$2 core=${2%%_*} flags=""
    [ "$v" = m4_nodsp ] && flags=-DDMC_NO_DSP
    mcu_build "$core" "$dir/$v.elf" "-DWITH_MODEL -I$dir $flags $digit" "$here/footprint_main.c" "$here/images.S"
    mcu_run "$core" "$dir/$v.elf" -plugin "$tmp/libicount.so,out=$dir/$v.count" >"$dir/$v.txt"
}
jobs_max=${MCU_JOBS:-$(nproc)}
spawn() { # CMD...: in the background, at most $jobs_max at a time
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    "$@" &
}
for cfg in "${configs[@]}"; do
    dir=$tmp/$cfg
    mkdir -p "$dir"
    mcu_config_json "$root" "$cfg" >"$dir/config.json"
    "$dmc" export --model "$(mcu_config_model "$root" "$cfg")" --config "$dir/config.json" --mnist "$tmp/mnist" --prefix model \
        -o "$dir/orig.h"
    awk '/^static void model_run/ { inrun = 1 } inrun && /^}/ { inrun = 0 }
         { print } inrun && /^    dmc_.*_run\(/ { print "    ICOUNT_END(); ICOUNT_BEGIN();" }' \
        "$dir/orig.h" >"$dir/model.h"
    # layer names in order, and their MACs from the header's table
    awk '/^static void model_run/ { inrun = 1 } inrun && /^}/ { exit }
         inrun && /^    dmc_.*_run\(/ { match($0, /&model_[A-Za-z0-9_]+/); print substr($0, RSTART + 7, RLENGTH - 7) }' \
        "$dir/orig.h" >"$dir/layers"
    awk '/^ \*   layer / { t = 1; next } t && /^ \*   [A-Za-z]/ { gsub(",", "", $NF); print $2, $NF } t && /^ \*$/ { exit }' \
        "$dir/orig.h" >"$dir/macs"
    for v in "${variants[@]}"; do spawn run_variant "$cfg" "$v"; done
done
wait
for cfg in "${configs[@]}"; do
    for v in "${variants[@]}"; do
        [ -s "$tmp/$cfg/$v.count" ] || { echo "FAILED: $cfg $v: no instruction counts" >&2; exit 1; }
    done
done

echo "Instructions per MAC by layer ($(arm-none-eabi-gcc -dumpversion), ${OPT:--O2})"
for cfg in "${configs[@]}"; do
    dir=$tmp/$cfg
    echo
    printf "%-12s %8s" "$cfg" MACs
    for v in "${variants[@]}"; do printf " %10s %6s" "$v" /MAC; done
    echo
    # region k (k >= 2) ends after layer k-1; region 1 = entry + layer 1
    n=$(wc -l <"$dir/layers")
    for ((k = 1; k <= n; ++k)); do
        name=$(sed -n "${k}p" "$dir/layers")
        macs=$(awk -v n="$name" '$1 == n { print $2 }' "$dir/macs")
        printf "%-12s %8s" "$name" "${macs:--}"
        for v in "${variants[@]}"; do
            insns=$(awk -v r="$k" '$1 == "region" && $2 == r { print $3 }' "$dir/$v.count")
            if [ -n "$macs" ] && [ "$macs" -gt 0 ]; then
                printf " %10s %6s" "$insns" "$(awk -v i="$insns" -v m="$macs" 'BEGIN { printf "%.2f", i / m }')"
            else
                printf " %10s %6s" "$insns" -
            fi
        done
        echo
    done
    total_macs=$(awk '{ s += $2 } END { print s }' "$dir/macs")
    printf "%-12s %8s" total "$total_macs"
    for v in "${variants[@]}"; do
        insns=$(awk '$1 == "region" && $2 > 0 { s += $3 } END { print s }' "$dir/$v.count")
        printf " %10s %6s" "$insns" "$(awk -v i="$insns" -v m="$total_macs" 'BEGIN { printf "%.2f", i / m }')"
    done
    echo
done
