#!/usr/bin/env bash
# Hostile names and numbers in the exported header: a model the engine
# accepts either exports a header that compiles warning-free as C99 and as
# C++11 (-Wall -Wextra -Werror -pedantic, as export_test.sh), or `dmc
# export` refuses it (exit 1) with a message naming what to change. Each
# case says which of the two it expects. Covered: a prefix (or model name)
# in the kernels' dmc_/DMC_ names, layers whose names make one of the
# header's own identifiers, two layers defining one name (c1 and
# c1_weights), a name that <stdint.h>, <string.h> or C++ holds (every such
# name this machine's compilers know, found by preprocessing those
# headers), and an input std so small that a scale becomes infinite.
# usage: export_names_test.sh PATH/TO/dmc     (MNIST_DIR must be set)
set -u
dmc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
cases=0
flags="-O2 -Wall -Wextra -Werror -pedantic"

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---- small models, written as JSON ----

# values N: N weights in [-0.5, 0.5], the same every run.
values() { awk -v n="$1" 'BEGIN { for (i = 0; i < n; ++i) printf "%s%.1f", (i ? ", " : ""), ((i * 7) % 11 - 5) / 10 }'; }
linear() { # name in out
    echo "{\"name\": \"$1\", \"type\": \"linear\", \"in_features\": $2, \"out_features\": $3," \
        "\"weight\": [$(values $(($2 * $3)))], \"bias\": [$(values "$3")]}"
}
conv() { # name in out kernel stride
    echo "{\"name\": \"$1\", \"type\": \"conv2d\", \"in_channels\": $2, \"out_channels\": $3, \"kernel\": $4," \
        "\"stride\": $5, \"weight\": [$(values $(($2 * $3 * $4 * $4)))], \"bias\": [$(values "$3")]}"
}
layer() { echo "{\"name\": \"$1\", \"type\": \"$2\"}"; }                             # name type
pool() { echo "{\"name\": \"$1\", \"type\": \"maxpool2d\", \"kernel\": $2}"; }       # name window
join() { local IFS=,; echo "$*"; }

# The two models below take their layers' names as arguments, and from
# the caller's variables: name (the model's, default s or m), second_type
# (maxpool2d, default, or relu), std and mean (the input's).

# second_layer NAME WINDOW: the layer after the convolution.
second_layer() {
    if [ "${second_type:-maxpool2d}" = relu ]; then layer "$1" relu; else pool "$1" "$2"; fi
}

# sine_model FILE CONV SECOND LINEAR: a regression model on the sine set
# (1x1x1 in, 1 out): conv 1x1 to 4 channels, pool 1x1, flatten, linear.
sine_model() {
    cat >"$1" <<EOF
{"format": "dmc-model", "version": 1, "name": "${name:-s}", "task": "regression", "dataset": "sine",
 "input": {"channels": 1, "height": 1, "width": 1, "min": 0, "max": 6.283185307179586,
           "mean": ${mean:-3.14159}, "std": ${std:-1.8}},
 "layers": [$(join "$(conv "$2" 1 4 1 1)" "$(second_layer "$3" 1)" "$(layer flat flatten)" "$(linear "$4" 4 1)")]}
EOF
}

# mnist_model FILE CONV SECOND FLAT LINEAR: a classifier on MNIST, whose
# header has the image functions too (quantize_input_u8, predict): 28x28,
# conv 3x3 stride 3 to 2x9x9, pool 3x3, flatten, linear to 10.
mnist_model() {
    local features=18
    [ "${second_type:-maxpool2d}" = relu ] && features=162
    cat >"$1" <<EOF
{"format": "dmc-model", "version": 1, "name": "${name:-m}", "task": "classification", "dataset": "mnist",
 "input": {"channels": 1, "height": 28, "width": 28, "mean": 0.1307, "std": 0.3081},
 "layers": [$(join "$(conv "$2" 1 2 3 3)" "$(second_layer "$3" 3)" "$(layer "$4" flatten)" "$(linear "$5" "$features" 10)")]}
EOF
}

# ---- the two outcomes ----

# compiles HEADER PREFIX: the header as C99 and C++11, implementation and
# a call of <prefix>_infer, without a warning.
compiles() {
    local header=$1 p=$2 P
    P=$(echo "$2" | tr '[:lower:]' '[:upper:]')
    cat >"$tmp/main.c" <<EOF
#define ${P}_IMPLEMENTATION
#include "$header"
int main(void)
{
    static int8_t q[${P}_INPUT_SIZE], out[${P}_OUTPUT_SIZE];
    ${p}_infer(q, out);
    return out[0] == 0;
}
EOF
    gcc -std=c99 $flags "$tmp/main.c" -o "$tmp/main_c" 2>"$tmp/cc_err" &&
        g++ -std=c++11 $flags -x c++ "$tmp/main.c" -o "$tmp/main_cpp" 2>>"$tmp/cc_err"
}

# check WHAT EXPECT MODEL [PREFIX]: exports MODEL (with --prefix PREFIX if
# given). EXPECT is "compiles" or the refusal's message, which stderr must
# hold. A refusal must exit 1: a crash or another status fails.
check() {
    local what=$1 expect=$2 model=$3 prefix=${4:-} status
    cases=$((cases + 1))
    "$dmc" export --model "$model" ${prefix:+--prefix "$prefix"} -o "$tmp/case.h" >/dev/null 2>"$tmp/err"
    status=$?
    if [ "$expect" = compiles ]; then
        if [ $status -ne 0 ]; then fail "$what: refused: $(cat "$tmp/err")"; return; fi
        [ -n "$prefix" ] || prefix=$(grep -m1 -o '^void [A-Za-z0-9_]*_infer(' "$tmp/case.h" | sed 's/^void //; s/_infer($//')
        compiles "$tmp/case.h" "$prefix" || fail "$what: the header does not compile: $(head -5 "$tmp/cc_err")"
    elif [ $status -ne 1 ]; then
        fail "$what: exit status $status, expected 1 with: $expect"
    else
        grep -qF -- "$expect" "$tmp/err" || fail "$what: stderr lacks '$expect': $(cat "$tmp/err")"
    fi
}

# ---- the prefix: the kernels' names are dmc_ and DMC_ ----

sine_model "$tmp/sine.json" c1 pool fc
check "plain sine model" compiles "$tmp/sine.json"
kernels="the embedded kernels reserve (every name beginning dmc_ or DMC_ is theirs); choose another prefix"
check "prefix dmc" "export: prefix 'dmc' would define dmc_quantize_input, which $kernels" "$tmp/sine.json" dmc
for kernel in dmc_arith dmc_dot dmc_conv2d dmc_linear dmc_pool dmc_activation DMC_ARITH; do
    check "prefix $kernel" "export: prefix '$kernel' would define ${kernel}_quantize_input, which $kernels" \
        "$tmp/sine.json" "$kernel"
done
check "prefix Dmc" "export: prefix 'Dmc' would define DMC_H, which $kernels" "$tmp/sine.json" Dmc
name=DMC_Conv2d sine_model "$tmp/named_dmc.json" c1 pool fc
check "model named DMC_Conv2d" \
    "prefix 'dmc_conv2d' would define dmc_conv2d_quantize_input, which $kernels (it is the model's name in lower case)" \
    "$tmp/named_dmc.json"
check "prefix _STDINT" "prefix '_STDINT' would define _STDINT_quantize_input, which C reserves" "$tmp/sine.json" _STDINT
check "prefix dmcnet" compiles "$tmp/sine.json" dmcnet

# ---- a layer whose identifier is one of the header's own ----

own="which the header itself defines; rename the layer"
for layer in arena run infer infer_arena quantize_input dequantize_output; do
    sine_model "$tmp/s.json" "$layer" pool fc
    check "conv layer '$layer'" "export: layer '$layer' would define s_$layer, $own" "$tmp/s.json"
done
sine_model "$tmp/s.json" c1 arena fc
check "pool layer 'arena'" "export: layer 'arena' would define s_arena, $own" "$tmp/s.json"
sine_model "$tmp/s.json" c1 pool run
check "linear layer 'run'" "export: layer 'run' would define s_run, $own" "$tmp/s.json"
# A relu or flatten layer defines nothing, whatever its name.
second_type=relu mnist_model "$tmp/m.json" conv arena predict fc
check "relu 'arena', flatten 'predict'" compiles "$tmp/m.json"
# The image functions are in a classifier's header on MNIST only.
for layer in predict input_lut quantize_input_u8; do
    mnist_model "$tmp/m.json" "$layer" pool flat fc
    check "MNIST layer '$layer'" "export: layer '$layer' would define m_$layer, $own" "$tmp/m.json"
    sine_model "$tmp/s.json" "$layer" pool fc
    check "regression layer '$layer'" compiles "$tmp/s.json"
done
# The macros are the prefix in capitals: a capital prefix meets them.
for layer in H ALIGNED IMPLEMENTATION INPUT_SIZE; do
    sine_model "$tmp/s.json" "$layer" pool fc
    check "layer '$layer', prefix S" "export: layer '$layer' would define S_$layer, $own" "$tmp/s.json" S
done

# ---- two layers defining one name ----

for suffix in weights bias multiplier shift; do
    sine_model "$tmp/s.json" c1 pool "c1_$suffix"
    check "layers c1, c1_$suffix" \
        "export: layer 'c1_$suffix' would define s_c1_$suffix, which layer 'c1' also defines; rename one of them" \
        "$tmp/s.json"
done
sine_model "$tmp/s.json" c1_weights pool c1
check "layers c1_weights, c1" \
    "export: layer 'c1' would define s_c1_weights, which layer 'c1_weights' also defines; rename one of them" \
    "$tmp/s.json"
sine_model "$tmp/s.json" c1 c1_weights fc
check "layer c1, pool c1_weights" \
    "export: layer 'c1_weights' would define s_c1_weights, which layer 'c1' also defines; rename one of them" \
    "$tmp/s.json"
second_type=relu sine_model "$tmp/s.json" c1 c1_weights fc
check "layer c1, relu c1_weights" compiles "$tmp/s.json"

# ---- names the C library or C++ holds ----

check_reserved() { # PREFIX LAYER message-fragment
    sine_model "$tmp/s.json" c1 pool "$2"
    check "prefix $1, layer $2" "export: layer '$2' would define $1_$2, which $3" "$tmp/s.json" "$1"
}
check_reserved int8 t "POSIX reserves for types"
check_reserved INT8 MAX "<stdint.h> reserves"
check_reserved UINT_LEAST16 C "<stdint.h> reserves"
check_reserved SIZE MAX "<stdint.h> or <string.h> declares"
check_reserved strerror r "<stdint.h> or <string.h> declares"
check_reserved and eq "is a C++ keyword"
check_reserved static assert "is a C++ keyword"

# Every name with a '_' that the headers the exported header includes
# declare or define here, as C99 and as C++11, and the C++ keywords with
# one: as <prefix>_<layer>, each must be refused or compile.
printf '#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n' >"$tmp/inc.c"
{
    for compiler in "gcc -std=c99 -x c" "g++ -std=c++11 -x c++"; do
        $compiler -E "$tmp/inc.c" | grep -v '^#' | grep -oE '\b[A-Za-z][A-Za-z0-9]*_[A-Za-z][A-Za-z0-9_]*\b'
        $compiler -E -dM "$tmp/inc.c" | awk '{ sub(/\(.*/, "", $2); print $2 }'
    done
    echo and_eq not_eq or_eq xor_eq static_assert thread_local const_cast static_cast dynamic_cast \
        reinterpret_cast co_await co_return co_yield char8_t char16_t char32_t | tr ' ' '\n'
} | grep -E '^[A-Za-z][A-Za-z0-9]*_[A-Za-z][A-Za-z0-9_]*$' | sort -u >"$tmp/names"
[ "$(wc -l <"$tmp/names")" -ge 100 ] || fail "only $(wc -l <"$tmp/names") library names found"
sine_model "$tmp/template.json" c1 pool LAYER # written once: the loop only renames
while read -r name; do
    prefix=${name%%_*}
    layer=${name#*_}
    sed "s/\"LAYER\"/\"$layer\"/" "$tmp/template.json" >"$tmp/s.json"
    cases=$((cases + 1))
    if "$dmc" export --model "$tmp/s.json" --prefix "$prefix" -o "$tmp/lib.h" >/dev/null 2>"$tmp/err"; then
        compiles "$tmp/lib.h" "$prefix" || fail "library name $name: the header does not compile: $(head -3 "$tmp/cc_err")"
    else
        grep -qF "would define $name, which" "$tmp/err" || fail "library name $name: $(cat "$tmp/err")"
    fi
done <"$tmp/names"

# ---- numbers: no float literal may be inf or nan ----

# An input std or mean whose inverse or scale no C float literal can hold
# is refused when the model is loaded (MODEL_FORMAT.md, "Validity rules"),
# naming the value; the exporter refuses an infinite literal on its own too
# (finite_literal), for models built in code.
for value in 1e-45 1e-30 1e-40; do
    std=$value sine_model "$tmp/std.json" c1 pool fc
    check "std $value" "std $value is outside [1e-06, 1e+06]" "$tmp/std.json"
done
mean=-1e30 sine_model "$tmp/mean.json" c1 pool fc
check "mean -1e30" "mean -1e+30 is outside [-1e+06, 1e+06]" "$tmp/mean.json"
# Small and large but workable numbers give finite literals that compile.
for value in 1e-6 1e3; do
    std=$value sine_model "$tmp/std.json" c1 pool fc
    check "std $value" compiles "$tmp/std.json"
done
mean=-1e6 sine_model "$tmp/mean.json" c1 pool fc
check "mean -1e6" compiles "$tmp/mean.json"

if [ $failures -ne 0 ]; then
    echo "$failures of $cases export-name checks failed"
    exit 1
fi
echo "all $cases export-name checks passed"
