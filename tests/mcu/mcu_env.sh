# shellcheck shell=bash
# mcu_env.sh - shared by mcu_test.sh, footprint.sh and layers.sh (sourced,
# not run):
# the emulated cores, how to build firmware for them, how to run it.
#
#   core  compiler flags                                    QEMU board   flash / RAM
#   m0    -mcpu=cortex-m0plus -mthumb                       microbit     256 KiB / 16 KiB
#   m3    -mcpu=cortex-m3 -mthumb                           mps2-an385   4 MiB / 4 MiB
#   m4    -mcpu=cortex-m4 -mthumb, FPv4-SP, hard float ABI  mps2-an386   4 MiB / 4 MiB
#   m7    -mcpu=cortex-m7 -mthumb, FPv5-D16, hard float ABI mps2-an500   4 MiB / 4 MiB
#
# QEMU 7.2 has no Cortex-M0+ board; M0+ code is ARMv6-M, the instruction set
# of the micro:bit's Cortex-M0, and QEMU's micro:bit faults on unaligned
# word accesses as the hardware does.

MCU_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MCU_CFLAGS="-O2 -Wall -Wextra -Werror -pedantic -ffunction-sections -fdata-sections"
MCU_QEMU_TIMEOUT=${MCU_QEMU_TIMEOUT:-60} # seconds per QEMU run: a hang fails

# The LeNet-5 compression configs the scripts build, by name.
declare -A MCU_LENET5_CONFIGS=(
    [int8]='{"default": {"bits": 8}}'
    [int4]='{"default": {"bits": 4}}'
    [int2]='{"default": {"bits": 2}}'
    [int4_pruned]='{"default": {"bits": 4}, "layers": {"conv2": {"keep": 0.5}, "fc1": {"keep": 0.5}}}'
    [int2_pruned]='{"default": {"bits": 2}, "layers": {"conv1": {"bits": 8}, "conv2": {"keep": 0.75}, "fc1": {"keep": 0.25}}}'
)

# mcu_config_model ROOT CFG, mcu_config_json ROOT CFG: the model file and
# the config (JSON text) of a config name: the LeNet-5 configs above, or
# "dsconv", the trained depthwise-separable asset under its committed config
# (depthwise convolutions at 4 bits, global average pooling).
mcu_config_model() {
    if [ "$2" = dsconv ]; then echo "$1/assets/dsconv.compressed.json"; else echo "$1/assets/lenet5.json"; fi
}
mcu_config_json() {
    if [ "$2" = dsconv ]; then
        cat "$1/assets/dsconv.compressed.config.json"
    elif [ -n "${MCU_LENET5_CONFIGS[$2]:-}" ]; then
        echo "${MCU_LENET5_CONFIGS[$2]}"
    else
        echo "unknown config $2" >&2
        return 1
    fi
}

core_cpu() {
    case $1 in
    m0) echo "-mcpu=cortex-m0plus -mthumb" ;;
    m3) echo "-mcpu=cortex-m3 -mthumb" ;;
    m4) echo "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16" ;;
    m7) echo "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16" ;;
    *) echo "unknown core $1" >&2; return 1 ;;
    esac
}

core_board() {
    case $1 in
    m0) echo microbit ;;
    m3) echo mps2-an385 ;;
    m4) echo mps2-an386 ;;
    m7) echo mps2-an500 ;;
    esac
}

core_flash_bytes() { case $1 in m0) echo 262144 ;; *) echo 4194304 ;; esac; }
core_ram_bytes() { case $1 in m0) echo 16384 ;; *) echo 4194304 ;; esac; }
core_stack_bytes() { case $1 in m0) echo 2048 ;; *) echo 8192 ;; esac; }

# Fails when a tool is missing (make deps installs them): a test that
# cannot run must not pass unnoticed.
mcu_require_tools() {
    local t missing=""
    for t in arm-none-eabi-gcc arm-none-eabi-g++ arm-none-eabi-size arm-none-eabi-nm \
        qemu-system-arm gcc timeout od; do
        command -v "$t" >/dev/null || missing="$missing $t"
    done
    if [ -n "$missing" ]; then
        echo "FAILED: missing$missing (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi" \
            "libstdc++-arm-none-eabi-newlib qemu-system-arm)" >&2
        exit 1
    fi
}

# mcu_mnist_subset DIR COUNT: a MNIST folder in DIR with the first COUNT
# test images and labels (uncompressed) and the training files of
# $MNIST_DIR (linked). `dmc export --mnist DIR` then writes the same header
# as with the full folder (calibration uses training images; the test set
# only feeds the accuracy figures in the header's comment) in a fraction of
# the time, and `dmc infer --mnist DIR` gives the outputs of those COUNT.
mcu_mnist_subset() {
    local dir=$1 count=$2 kind file
    mkdir -p "$dir"
    for kind in images-idx3 labels-idx1; do
        file=$MNIST_DIR/t10k-$kind-ubyte
        if [ -f "$file.gz" ]; then
            gzip -dc "$file.gz" >"$dir/full"
        elif [ -f "$file" ]; then
            cp "$file" "$dir/full"
        else
            echo "no $file(.gz): set MNIST_DIR to the MNIST folder" >&2
            return 1
        fi
        if [ "$kind" = images-idx3 ]; then
            local header=16 record=784
        else
            local header=8 record=1
        fi
        {
            head -c 4 "$dir/full"
            mcu_be32 "$count"
            head -c $((header + count * record)) "$dir/full" | tail -c +9
        } >"$dir/t10k-$kind-ubyte"
        rm "$dir/full"
    done
    for file in "$MNIST_DIR"/train-*-ubyte*; do ln -s "$(cd "$(dirname "$file")" && pwd)/$(basename "$file")" "$dir/"; done
}

# mcu_be32 N: N as 4 bytes, big-endian (the IDX count field)
mcu_be32() {
    local shift
    for shift in 24 16 8 0; do
        # shellcheck disable=SC2059
        printf "\\$(printf %03o $((($1 >> shift) & 255)))"
    done
}

# mcu_images_flags IDX FIRST COUNT: the flags that make images.S embed
# images FIRST .. FIRST+COUNT-1 of an uncompressed IDX image file.
mcu_images_flags() {
    echo "-DMCU_IDX_FILE=\"$1\" -DMCU_IMAGE_FIRST=$2 -DMCU_IMAGE_COUNT=$3"
}

# mcu_build CORE OUT.elf "EXTRA FLAGS" SOURCES...: compiles the sources
# (as C99; as C++11 with arm-none-eabi-g++ when MCU_CXX=1) and links them
# with startup.c and semihost.c (always C99) into a firmware for CORE.
mcu_build() {
    local core=$1 elf=$2 extra=$3 cpu src obj objs=()
    shift 3
    cpu=$(core_cpu "$core")
    for src in "$@"; do
        obj=${elf%.elf}.$(basename "${src%.*}").o
        if [ "${src##*.}" = S ]; then
            # shellcheck disable=SC2086
            arm-none-eabi-gcc $cpu $extra -c "$src" -o "$obj"
        elif [ "${MCU_CXX:-0}" = 1 ]; then
            # shellcheck disable=SC2086
            arm-none-eabi-g++ $cpu -std=c++11 $MCU_CFLAGS -fno-exceptions -fno-rtti $extra \
                -I"$MCU_HERE" -x c++ -c "$src" -o "$obj"
        else
            # shellcheck disable=SC2086
            arm-none-eabi-gcc $cpu -std=c99 $MCU_CFLAGS $extra -I"$MCU_HERE" -c "$src" -o "$obj"
        fi
        objs+=("$obj")
    done
    for src in startup semihost; do
        obj=${elf%.elf}.$src.o
        # shellcheck disable=SC2086
        arm-none-eabi-gcc $cpu -std=c99 $MCU_CFLAGS -I"$MCU_HERE" -c "$MCU_HERE/$src.c" -o "$obj"
        objs+=("$obj")
    done
    # shellcheck disable=SC2086
    arm-none-eabi-gcc $cpu -nostartfiles --specs=nano.specs -T "$MCU_HERE/link.ld" \
        -Wl,--defsym=FLASH_SIZE="$(core_flash_bytes "$core")" \
        -Wl,--defsym=RAM_SIZE="$(core_ram_bytes "$core")" \
        -Wl,--defsym=STACK_SIZE="$(core_stack_bytes "$core")" \
        -Wl,--gc-sections -Wl,-Map="${elf%.elf}.map" -o "$elf" "${objs[@]}"
}

# mcu_run CORE ELF [QEMU ARGS...]: runs the firmware; its output on stdout,
# QEMU's exit status = the firmware's (124: timed out; 99: a fault).
mcu_run() {
    local core=$1 elf=$2
    shift 2
    timeout "$MCU_QEMU_TIMEOUT" qemu-system-arm -M "$(core_board "$core")" -nographic \
        -monitor none -serial null -semihosting-config enable=on,target=native \
        "$@" -kernel "$elf"
}

# mcu_size ELF: prints "text data bss" (decimal) as arm-none-eabi-size counts them.
mcu_size() { arm-none-eabi-size "$1" | awk 'NR == 2 { print $1, $2, $3 }'; }
