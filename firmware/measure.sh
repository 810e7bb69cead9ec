#!/usr/bin/env bash
# Measures the firmware's models, staticnet f32 and int8 and MicroFlow 0.1.3 (int8)
# side by side, on a Cortex-M4F (QEMU mps2-an386) and a Cortex-M0 (QEMU
# microbit), at opt-level s and 3: flash, static RAM, stack peak and guest
# instructions per call, each as model − baseline (the same firmware with
# the model call left out).
#   usage: firmware/measure.sh [WORKDIR] [MODELS…]   (default ${TMPDIR:-/tmp}/staticnet-measure; wiped)
# MODELS: any of digits train train-tiny gru vision vision-train sine speech
# sine-int8 speech-int8 mf-sine mf-speech (default: all). About 8 minutes on 2
# shared cores (96 builds and runs).
# Writes WORKDIR/results.md (the tables), results.txt, one .elf and .log per
# variant. Not run by CI (firmware/check.sh is).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-${TMPDIR:-/tmp}/staticnet-measure}
shift || true
MODELS=${*:-digits train train-tiny gru vision vision-train sine speech sine-int8 speech-int8 mf-sine mf-speech}

# 1. Tools: QEMU 7.2 (Debian 12, built with TCG plugin support), ARM binutils, gcc.
for tool in qemu-system-arm arm-none-eabi-size gcc; do
    command -v $tool >/dev/null || {
        sudo=()
        [[ $(id -u) == 0 ]] || sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
            qemu-system-arm binutils-arm-none-eabi gcc >/dev/null
        break
    }
done
rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi

rm -rf "$WORK" && mkdir -p "$WORK/out"
export CARGO_TARGET_DIR=$WORK/target
cd "$HERE"

# 2. MicroFlow's models, out of the crate (crates.io ships them in models/).
cargo fetch --locked
MF=$(cargo metadata --format-version 1 --features mf-sine |
    grep -o '"manifest_path":"[^"]*/microflow-0\.1\.3/Cargo.toml"' | cut -d'"' -f4)
cp "$(dirname "$MF")"/models/{sine,speech}.tflite models/

# 3. The instruction-counting QEMU plugin.
gcc -shared -fPIC -O2 -o "$WORK/insn_window.so" insn_window.c

# 4. Build, size and run one variant.
measure() { # target board opt model variant
    local target=$1 board=$2 opt=$3 model=$4 variant=$5
    local name=$model-$target-O$opt-$variant feats=$model
    [[ $variant == baseline ]] && feats=$model,baseline
    local elf=$WORK/out/$name.elf log=$WORK/out/$name.log
    echo "== $target $model opt-level=$opt $variant" >&2
    if ! CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt cargo build -q --locked --release --target "$target" \
        --no-default-features --features "$feats" 2>"$log"; then
        echo "  does not build (or link) for $target: $(grep -m1 -E 'error|overflow' "$log")" >&2
        echo "$target $model $opt $variant - - - - - - nolink" >>"$WORK/out/results.txt"
        return
    fi
    cp "$CARGO_TARGET_DIR/$target/release/firmware" "$elf"
    local marker
    marker=0x$(arm-none-eabi-nm "$elf" | awk '$3=="mf_window" {print $1}')
    local status=ok
    timeout 60 qemu-system-arm -M "$board" -nographic -semihosting-config enable=on,target=native \
        -plugin "$WORK/insn_window.so,marker=$marker" -kernel "$elf" >"$log" 2>&1 || status=fault
    grep -q '^done ' "$log" || status=fault
    [[ $status == ok ]] || echo "  did not finish (the stack outgrew the RAM?): $(tail -c 300 "$log")" >&2
    local sizes stack insns
    sizes=$(arm-none-eabi-size -A "$elf" | awk '$1==".text"{t=$2} $1==".rodata"{r=$2}
        $1==".data"{d=$2} $1==".bss"||$1==".uninit"{b+=$2} END{print t+0, r+0, d+0, b+0}')
    stack=$(awk '$1=="stack" && $4>m {m=$4} END{print m+0}' "$log")
    insns=$(awk '$1=="insn_window" && $3>m {m=$3} END{print m+0}' "$log")
    echo "$target $model $opt $variant $sizes $stack $insns $status" >>"$WORK/out/results.txt"
}

# Opt-level outermost, so the dependencies build once per opt-level and target.
for opt in s 3; do
    for tb in thumbv7em-none-eabihf:mps2-an386 thumbv6m-none-eabi:microbit; do
        for model in $MODELS; do
            for variant in model baseline; do
                measure "${tb%%:*}" "${tb##*:}" $opt "$model" $variant
            done
        done
    done
done

# 5. Tables. flash = .text+.rodata+.data (the vector table, 1024 B on the
# M4F and 192 B on the M0, is left out: the same in every variant),
# static RAM = .data+.bss, stack = peak below the caller's SP during one
# call, insns = guest instructions of one call (the largest over the inputs).
awk -f "$HERE/measure_tables.awk" "$WORK/out/results.txt" | tee "$WORK/out/results.md"
