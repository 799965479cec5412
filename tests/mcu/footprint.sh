#!/usr/bin/env bash
# Measured footprint of the exported LeNet-5 on Cortex-M4F and Cortex-M0,
# and of the depthwise-separable asset (config "dsconv":
# assets/dsconv.compressed.json under its committed config) on those and
# the Cortex-M7.
#
# For each config below, footprint_main.c (one embedded digit, one
# inference) is built with the exported header for
#   m4        Cortex-M4F, mps2-an386 (the header's DSP path, if it has one)
#   m4_nodsp  the same with -DDMC_NO_DSP (plain C)
#   m0        Cortex-M0+ code on the micro:bit (256 KiB flash, 16 KiB RAM)
#   m7        Cortex-M7, mps2-an500 (DSP path; dsconv only)
# (with --check, dsconv on m4 and m0 only: the CTest stays short)
# and, once per core, without the model (footprint_main.c's stand-ins):
# the baseline. It runs each firmware under qemu-system-arm with
# icount_plugin.c and prints, per config and core:
#   flash     .text + .data of the whole firmware (arm-none-eabi-size)
#   RAM       .data + .bss of the whole firmware
#   P_FLASH   MODEL_FLASH_BYTES: packed weights + int32 biases + requantization
#   P_ARENA   MODEL_ARENA_BYTES: the activation arena of the buffer plan
#   arena     the size of the model_arena symbol (arm-none-eabi-nm)
#   model     flash with the model minus flash of the baseline
#   const     other model constants in flash: input table, layer descriptors
#   code      model - P_FLASH - const: the code of the inference
#   stack     stack high-water mark of the whole run (painted stack)
#   insns     instructions executed by model_infer() (exact, QEMU TCG plugin)
#   /MAC      insns / MODEL_MACS
# then the project's goals next to the measurements.
#
# usage: footprint.sh [--check] [--profile] [PATH/TO/dmc [REPO_ROOT]]
#   defaults: REPO_ROOT = two folders up, dmc = REPO_ROOT/build/engine/dmc;
#   MNIST_DIR as in the README (default REPO_ROOT/../shared/datasets/mnist).
#   --check (CTest): exit 1 when the M0 build does not fit in 16 KiB of RAM
#   (.data + .bss + measured stack), when the model_arena symbol differs
#   from P_ARENA_BYTES or from the buffer plan's peak (`dmc eval --json`),
#   when the flash or RAM accounting does not add up (parameter symbols =
#   P_FLASH_BYTES = dmc eval's flash, RAM growth = arena, code by delta =
#   code by symbol sizes within alignment), when an output differs from
#   `dmc infer`, or when model_infer()'s instruction count is missing or 0
#   (the build is named; its row shows "-"). The speed goals are printed,
#   never asserted.
#   --profile: also where model_infer()'s instructions go, for int8, int4
#   and dsconv: executed instructions per (innermost inlined) function, from the
#   plugin's per-address counts and arm-none-eabi-addr2line (builds with -g,
#   which changes no code).
#   Fails when the ARM toolchain or QEMU is missing (make deps installs them).
#   OPT=-Os (default -O2) measures another optimisation level.
set -euo pipefail
check=0
profile=0
while [ $# -gt 0 ]; do
    case $1 in
    --check) check=1 ;;
    --profile) profile=1 ;;
    *) break ;;
    esac
    shift
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${2:-$(cd "$here/../.." && pwd)}
dmc=${1:-$root/build/engine/dmc}
# shellcheck source=mcu_env.sh
source "$here/mcu_env.sh"
mcu_require_tools
MNIST_DIR=${MNIST_DIR:-$root/../shared/datasets/mnist} # the README's default
[ -x "$dmc" ] || { echo "no dmc at $dmc: build the engine first (cmake --build build)" >&2; exit 1; }
if [ -n "${OPT:-}" ]; then MCU_CFLAGS="${MCU_CFLAGS/-O2/$OPT}"; fi
[ "$profile" = 0 ] || MCU_CFLAGS="$MCU_CFLAGS -g"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

configs=(int8 int4 int2 int4_pruned int2_pruned dsconv)
# the builds of a config: dsconv (depthwise) on m7 too; under --check (the
# CTest, kept short) only on m4 (its DSP path) and m0 (its 16 KiB)
variants_of() {
    if [ "$1" != dsconv ]; then echo m4 m4_nodsp m0
    elif [ "$check" = 1 ]; then echo m4 m0
    else echo m4 m4_nodsp m0 m7; fi
}
base_cores=(m4 m0)
[ "$check" = 1 ] || base_cores+=(m7)
variant_core() { echo "${1%%_*}"; }
variant_flags() { if [ "$1" = m4_nodsp ]; then echo "-DDMC_NO_DSP"; fi; }

# test image 0 (a 7) is the digit; dmc export reads this small folder (the
# same header as with all 10,000 test images, but faster: mcu_env.sh)
mcu_mnist_subset "$tmp/mnist" 100
gcc -shared -fPIC -O2 -Wall -Wextra -o "$tmp/libicount.so" "$here/icount_plugin.c"
digit=$(mcu_images_flags "$tmp/mnist/t10k-images-idx3-ubyte" 0 1)

# symbols ELF: "size type name" for every function and data object
symbols() {
    arm-none-eabi-readelf -sW "$1" | awk '
        function dec(s,   i, v) { if (s !~ /^0x/) return s + 0
            v = 0; for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", tolower(substr(s, i, 1))) - 1
            return v }
        # aliases (two names, one address: __aeabi_uidiv of size 0 and
        # __udivsi3) count once, with the largest size and its name
        ($4 == "FUNC" || $4 == "OBJECT") && (!(($2, $4) in size) || dec($3) > size[$2, $4]) {
            size[$2, $4] = dec($3); type[$2, $4] = $4; name[$2, $4] = $8 }
        END { for (k in size) print size[k], type[k], name[k] }'
}

# measure NAME CORE "FLAGS": builds footprint_main.c, runs it with the
# plugin, writes NAME.vars (shell assignments) in $tmp
measure() {
    local core=$2 flags=$3 out=$tmp/$1 sz rc=0 plugin
    mcu_build "$core" "$out.elf" "$flags $digit" "$here/footprint_main.c" "$here/images.S"
    plugin=$tmp/libicount.so,out=$out.count
    [ "$profile" = 0 ] || plugin=$plugin,profile=$out.prof
    mcu_run "$core" "$out.elf" -plugin "$plugin" >"$out.txt" 2>"$out.err" || rc=$?
    sz=$(mcu_size "$out.elf")
    symbols "$out.elf" >"$out.syms"
    {
        echo "rc=$rc"
        echo "$sz" | awk '{ print "text=" $1 "; data=" $2 "; bss=" $3 }'
        # a missing count file must not end this job early: the check below
        # reports the build whose count is missing
        awk '$1 == "region" { print "region" $2 "=" $3 }' "$out.count" 2>/dev/null || true
        awk '$1 == "out" { print "out=" $2 } $1 == "class" { print "class=" $2 }
             $1 == "stack" { print "stack=" $2 }' "$out.txt"
        awk '$2 == "FUNC" { f += $1 } END { print "funcs=" f + 0 }' "$out.syms"
        awk '$2 == "OBJECT" && $3 ~ /^model_.*_(weights|bias|multiplier|shift)$/ { p += $1 }
             $2 == "OBJECT" && $3 ~ /^model_/ && $3 !~ /_(weights|bias|multiplier|shift)$/ &&
                 $3 != "model_arena" { c += $1 }
             $2 == "OBJECT" && $3 ~ /^model_/ { n++ }
             END { print "params=" p + 0 "; consts=" c + 0 "; model_objects=" n + 0 }' "$out.syms"
        arm-none-eabi-nm -S -t d "$out.elf" | awk '$4 == "model_arena" { a = $2 + 0 } END { print "arena=" a + 0 }'
    } >"$out.vars"
}

config_run() { # CFG: export, reference output, the builds
    local cfg=$1 dir=$tmp/$1 v model
    model=$(mcu_config_model "$root" "$cfg")
    mkdir -p "$dir"
    mcu_config_json "$root" "$cfg" >"$dir/config.json"
    "$dmc" export --model "$model" --config "$dir/config.json" --mnist "$tmp/mnist" \
        --prefix model -o "$dir/model.h"
    "$dmc" infer --model "$model" --config "$dir/config.json" --mnist "$tmp/mnist" \
        -o "$dir/engine.bin" >/dev/null
    # the engine's own figures for the config: its buffer plan's peak, flash, MACs
    "$dmc" eval --model "$model" --config "$dir/config.json" --mnist "$tmp/mnist" --limit 1 \
        --json >"$dir/eval.json"
    {
        echo "expect=$(od -An -v -tx1 -N10 "$dir/engine.bin" | tr -d ' \n')"
        "${PYTHON:-python3}" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in ("peak_ram_bytes", "flash_bytes", "macs"): print("plan_%s=%d" % (k, d[k]))' "$dir/eval.json"
        for v in FLASH_BYTES ARENA_BYTES MACS; do
            echo "P_$v=$(sed -n "s/^#define MODEL_$v //p" "$dir/model.h")"
        done
    } >"$dir/header.vars"
    for v in $(variants_of "$cfg"); do
        measure "$cfg/$v" "$(variant_core "$v")" "-DWITH_MODEL -I$dir $(variant_flags "$v")"
    done
}

jobs_max=${MCU_JOBS:-$(nproc)}
spawn() {
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    "$@" &
}
mkdir -p "$tmp/base"
for core in "${base_cores[@]}"; do spawn measure "base/$core" "$core" ""; done
spawn config_run dsconv # the longest first (four builds, the most instructions)
for cfg in "${configs[@]}"; do [ "$cfg" = dsconv ] || spawn config_run "$cfg"; done
wait

problems=()
problem() { problems+=("$1"); }
count_summary() { # COUNT_FILE: what the plugin wrote, for a message
    if [ ! -e "$1" ]; then echo "no file"; elif [ ! -s "$1" ]; then echo "an empty file"
    else head -c 200 "$1" | tr '\n' ';'; fi
}
load() { # FILE: the variables of a .vars file, or a problem when it is missing
    if [ -f "$1" ]; then
        # shellcheck disable=SC1090
        source "$1"
    else
        problem "${1#"$tmp"/}: no measurement (build failed?)"
        return 1
    fi
}

echo "Footprint of the exported LeNet-5 and dsconv ($(arm-none-eabi-gcc -dumpversion), ${MCU_CFLAGS%% *}," \
    "qemu-system-arm $(qemu-system-arm --version | awk 'NR == 1 { print $4 }'))"
echo "flash = .text+.data, RAM = .data+.bss (bytes); model = flash - baseline flash;" \
    "code = model - P_FLASH - const; insns: model_infer(), exact"
echo
fmt="%-12s %-8s %7s %6s %7s %7s %6s %7s %5s %6s %5s %9s %5s\n"
# shellcheck disable=SC2059
printf "$fmt" config core flash RAM P_FLASH P_ARENA arena model const code stack insns /MAC
declare -A base_flash base_ram base_funcs
for core in "${base_cores[@]}"; do
    text=0 data=0 bss=0 stack=0 funcs=0 rc=0 region0=-1
    load "$tmp/base/$core.vars" || continue
    base_flash[$core]=$((text + data))
    base_ram[$core]=$((data + bss))
    base_funcs[$core]=$funcs
    [ "$rc" = 0 ] || problem "baseline $core: QEMU exit status $rc"
    [ "$region0" = 0 ] || problem "baseline $core: the empty region counted ${region0/#-1/no} instructions, not 0 (plugin output: $(count_summary "$tmp/base/$core.count"))"
    # shellcheck disable=SC2059
    printf "$fmt" "(no model)" "$core" $((text + data)) $((data + bss)) - - - - - - "$stack" - -
done

declare -A insn_per_mac whole_flash pflash
arena_ok=1 m0_fits=1
expect="" plan_peak_ram_bytes="" plan_flash_bytes="" plan_macs="" # set by header.vars
for cfg in "${configs[@]}"; do
    load "$tmp/$cfg/header.vars" || continue
    for v in $(variants_of "$cfg"); do
        core=$(variant_core "$v")
        text=0 data=0 bss=0 stack=0 funcs=0 rc=0 region0=-1 region1="" out="" params=0 arena=0 consts=0
        model_objects=0
        if ! load "$tmp/$cfg/$v.vars"; then # a row all "-", the reason under Problems
            # shellcheck disable=SC2059
            printf "$fmt" "$cfg" "$v" - - "$P_FLASH_BYTES" "$P_ARENA_BYTES" - - - - - - -
            continue
        fi
        flash=$((text + data))
        ram=$((data + bss))
        model_flash=$((flash - ${base_flash[$core]:-0}))
        code=$((model_flash - P_FLASH_BYTES - consts))
        # an inference executes instructions: a count that is missing, empty
        # or zero is a failed measurement, not a fast model
        if [[ "$region1" =~ ^[1-9][0-9]*$ ]]; then
            per_mac=$(awk -v i="$region1" -v m="$P_MACS" 'BEGIN { printf "%.2f", i / m }')
            insn_per_mac[$cfg/$v]=$per_mac
        else
            problem "$cfg $v: no instruction count for model_infer(): region 1 is '${region1:-missing}' in the plugin's output ($(count_summary "$tmp/$cfg/$v.count"))"
            region1=- per_mac=-
        fi
        whole_flash[$cfg/$v]=$flash
        pflash[$cfg]=$P_FLASH_BYTES
        # shellcheck disable=SC2059
        printf "$fmt" "$cfg" "$v" "$flash" "$ram" "$P_FLASH_BYTES" "$P_ARENA_BYTES" "$arena" \
            "$model_flash" "$consts" "$code" "$stack" "$region1" "$per_mac"

        # the checks
        where="$cfg $v"
        [ "$rc" = 0 ] || problem "$where: QEMU exit status $rc (124: timeout, 99: fault): $(head -c 200 "$tmp/$cfg/$v.err")"
        [ "$out" = "$expect" ] || problem "$where: outputs $out, dmc infer gives $expect"
        [ "$region0" = 0 ] || problem "$where: the empty region counted ${region0/#-1/no} instructions, not 0"
        [ "$arena" = "$P_ARENA_BYTES" ] && [ "$arena" = "$plan_peak_ram_bytes" ] ||
            { problem "$where: model_arena is $arena bytes, P_ARENA_BYTES $P_ARENA_BYTES, the plan's peak (dmc eval) $plan_peak_ram_bytes"; arena_ok=0; }
        [ "$P_FLASH_BYTES" = "$plan_flash_bytes" ] && [ "$P_MACS" = "$plan_macs" ] ||
            problem "$where: P_FLASH_BYTES $P_FLASH_BYTES, P_MACS $P_MACS; dmc eval: $plan_flash_bytes, $plan_macs"
        [ "$params" = "$P_FLASH_BYTES" ] ||
            problem "$where: the parameter arrays hold $params bytes, P_FLASH_BYTES says $P_FLASH_BYTES"
        # RAM: the model adds its arena (and at most alignment)
        extra_ram=$((ram - ${base_ram[$core]:-0} - arena))
        [ "$extra_ram" -ge 0 ] && [ "$extra_ram" -lt 8 ] ||
            problem "$where: RAM grew by $((ram - ${base_ram[$core]:-0})) bytes, the arena is $arena"
        # flash: the code found by difference against the code found by
        # function sizes (they differ by alignment padding only: at most 3
        # bytes before each model constant, a few in the code)
        code_syms=$((funcs - ${base_funcs[$core]:-0}))
        gap=$((code - code_syms))
        [ "${gap#-}" -le $((4 * model_objects + 16)) ] ||
            problem "$where: code by difference $code bytes, by function sizes $code_syms (gap $gap)"
        if [ "$core" = m0 ]; then
            [ $((ram + stack)) -le "$(core_ram_bytes m0)" ] ||
                { problem "$where: .data+.bss $ram + stack $stack > 16384 bytes of RAM"; m0_fits=0; }
            [ "$stack" -le "$(core_stack_bytes m0)" ] ||
                { problem "$where: the stack used $stack bytes, more than the $(core_stack_bytes m0) reserved"; m0_fits=0; }
            [ "$flash" -le "$(core_flash_bytes m0)" ] || problem "$where: flash $flash > 256 KiB"
        fi
    done
done

[ "$check" = 0 ] || echo "(--check: dsconv on m4 and m0 only; its m4_nodsp and m7 rows come without --check)"
goal() { # TEXT MET(0/1)
    if [ "$2" = 1 ]; then echo "  [met]    $1"; else echo "  [missed] $1"; fi
}
echo
echo "Goals (the speed goals are a benchmark: printed, not asserted):"
if [ -n "${whole_flash[int4/m4]:-}" ]; then
    limit=$((pflash[int4] + 6144))
    goal "int4 (no pruning) on Cortex-M4, whole program flash ${whole_flash[int4/m4]} <= packed weights ${pflash[int4]} + 6144 = $limit" \
        "$([ "${whole_flash[int4/m4]}" -le "$limit" ] && echo 1 || echo 0)"
    part=$((whole_flash[int4/m4] - base_flash[m4]))
    goal "int4 (no pruning) on Cortex-M4, the model's part (whole program - baseline ${base_flash[m4]}) $part <= $limit" \
        "$([ "$part" -le "$limit" ] && echo 1 || echo 0)"
fi
goal "arena = the plan's peak: model_arena (nm) = P_ARENA_BYTES = dmc eval's peak_ram_bytes, every build" "$arena_ok"
goal "every M0 build fits in 16 KiB of RAM (.data + .bss + measured stack)" "$m0_fits"
for g in "int8 2.0" "int4 2.5"; do
    set -- $g
    for v in m4 m4_nodsp; do
        [ -n "${insn_per_mac[$1/$v]:-}" ] || continue
        goal "$1 on Cortex-M4 ($v): ${insn_per_mac[$1/$v]} instructions per MAC <= $2" \
            "$(awk -v a="${insn_per_mac[$1/$v]}" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }')"
    done
done

# profile CFG VARIANT: instructions of model_infer() per function
profile_of() {
    local base=$tmp/$1/$2
    echo
    echo "Where model_infer()'s instructions go: $1 on $2 (innermost inlined function; source line)"
    [ -s "$base.prof" ] || { echo "  (no profile)"; return; }
    awk '{ print "0x" $1 }' "$base.prof" | arm-none-eabi-addr2line -f -e "$base.elf" | paste - - |
        paste -d' ' "$base.prof" - | awk '
            { n = split($4, path, "/"); sub(/ \(discriminator.*/, "", path[n])
              f[$3] += $2; total += $2
              if ($2 > top[$3]) { top[$3] = $2; hot[$3] = path[n] } }
            END { for (k in f) printf "  %5.1f%% %9d  %-26s (hottest line %s)\n", 100 * f[k] / total, f[k], k, hot[k] }' |
        sort -rn | head -n 12
}
if [ "$profile" = 1 ]; then
    for cfg in int8 int4 dsconv; do
        for v in $(variants_of "$cfg"); do profile_of "$cfg" "$v"; done
    done
fi

if [ "${#problems[@]}" -gt 0 ]; then
    echo
    echo "Problems:"
    printf '  %s\n' "${problems[@]}"
    [ "$check" = 1 ] && { echo "footprint check FAILED"; exit 1; }
elif [ "$check" = 1 ]; then
    echo
    echo "footprint check passed"
fi
exit 0
