#!/usr/bin/env bash
# Runs the firmware in QEMU on a Cortex-M4F (mps2-an386) and a Cortex-M0
# (microbit) and checks every output against the host's (host/), bit for
# bit: the host builds the runtime without std, so it runs the same
# portable code with the same libm as the device.
#   usage: firmware/check.sh [--std]
# --std also compares with the runtime as a PC application builds it (std:
# AVX2/AVX-512 and FMA kernels, the platform's libm), within a tolerance.
# Needs qemu-system-arm and the two rustup targets (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")"
HOST=$(rustc -vV | awk '/^host/ {print $2}')
# The Cortex-M0 board has 16 KiB of RAM: no Controller training (10 KiB of
# model and Adam state, 12 KiB of stack; a small regression learns on it
# instead), no fine-tuning of the convolutional model (12 KiB of state,
# 155 KiB of stack) and no speech model (16 KiB of stack); the
# convolutional model's inference fits (13.5 KiB of stack). The speech
# model in int8 does not fit either: its 7.7 KiB f32 input and 6 KiB of stack.
M0_FEATURES=digits,train-tiny,gru,vision,sine,sine-int8
QEMU=(qemu-system-arm -nographic -semihosting-config enable=on,target=native)
mkdir -p target/check

echo "-- host reference (no_std runtime)"
cargo build -q --locked --profile host -p staticnet-firmware-host --bin reference --target "$HOST"
reference=target/$HOST/host/reference
if [[ ${1:-} == --std ]]; then
    echo "-- host reference (std runtime)"
    cargo build -q --locked --profile host -p staticnet-firmware-host --bin reference --target "$HOST" \
        --features std-runtime --target-dir target/std
fi

status=0
run() { # target board features
    local target=$1 board=$2 features=$3 log=target/check/$1.log
    echo "-- $target on QEMU $board ($features)"
    cargo build -q --locked --release --target "$target" --no-default-features --features "$features"
    # a hung firmware (a locked-up core) is stopped by the timeout; a run takes seconds
    if ! timeout 120 "${QEMU[@]}" -M "$board" -kernel "target/$target/release/firmware" >"$log" 2>&1; then
        echo "FAIL: the firmware exited with an error; its log:"
        cat "$log"
        status=1
        return
    fi
    "$reference" check "$log" || status=1
    if [[ -n ${STD_CHECK:-} ]]; then
        target/std/$HOST/host/reference check "$log" || status=1
    fi
}
[[ ${1:-} == --std ]] && STD_CHECK=1
run thumbv7em-none-eabihf mps2-an386 digits,train,train-tiny,gru,vision,vision-train,sine,speech,sine-int8,speech-int8
run thumbv6m-none-eabi microbit $M0_FEATURES
exit $status
