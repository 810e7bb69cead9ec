#!/usr/bin/env bash
# Runs the runtime's tests, Keras parity, the gradient checks and the digits
# test on the AVX-512 kernels inside Bochs, an x86 emulator that implements
# AVX-512, for machines without it.
#
# The guest is Debian 11's 5.10 kernel (later kernels reject the XSAVE
# layout Bochs 2.7 reports and turn AVX off) booted by GRUB from an ISO,
# with an initramfs holding the static test binaries, the fixtures they
# read and a small /init (avx512_emulated/init.rs). Needs root or sudo for
# apt-get when Bochs, GRUB or xorriso are missing; takes 10–20 minutes.
# Prints the guest's result lines; exits non-zero unless every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/target/avx512-emulated"
mkdir -p "$work"

# bochs-term: the lightest of the display plugins Bochs needs one of.
packages=(bochs bochs-term bochsbios vgabios grub-pc-bin grub-common xorriso mtools cpio jq)
missing=()
for package in "${packages[@]}"; do
    # A removed package can linger as "config-files": only "installed" counts.
    [[ $(dpkg-query -W -f '${Status}' "$package" 2>/dev/null) == *" installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

kernel_deb=linux-image-5.10.0-32-cloud-amd64-unsigned_5.10.223-1_amd64.deb
kernel_sha256=b1fb8d34c26105a2ba1271a3df868a9eea460657df98c77fd08822ef4908c9db
if ! echo "$kernel_sha256  $work/$kernel_deb" | sha256sum -c --status 2>/dev/null; then
    for mirror in http://deb.debian.org/debian http://archive.debian.org/debian; do
        curl -fsS --retry 3 -o "$work/$kernel_deb" "$mirror/pool/main/l/linux/$kernel_deb" && break
    done
    echo "$kernel_sha256  $work/$kernel_deb" | sha256sum -c --quiet
fi
rm -rf "$work/kernel" && mkdir "$work/kernel"
dpkg-deb -x "$work/$kernel_deb" "$work/kernel"

echo "== building static test binaries"
executables=$(RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$work/target" \
    cargo test --release --target x86_64-unknown-linux-gnu --no-run --message-format=json \
    -p staticnet --lib --test keras_parity --test gradient_check --test digits |
    jq -r 'select(.reason == "compiler-artifact" and .executable != null) | .executable')

initrd="$work/initrd"
rm -rf "$initrd" && mkdir -p "$initrd/tests" "$initrd/tmp" "$initrd$root/tests"
for executable in $executables; do
    # `staticnet-<hash>` is the runtime's unit tests.
    cp "$executable" "$initrd/tests/$(basename "$executable" | sed 's/-[0-9a-f]*$//')"
done
# The tests read these at the paths they were built with.
cp -r tests/fixtures "$initrd$root/tests/"
cp -r data "$initrd$root/"
rustc --edition 2021 -O -C target-feature=+crt-static -o "$initrd/init" tools/avx512_emulated/init.rs

iso="$work/iso"
rm -rf "$iso" && mkdir -p "$iso/boot/grub"
cp "$work"/kernel/boot/vmlinuz-* "$iso/boot/vmlinuz"
(cd "$initrd" && find . | cpio -o -H newc --quiet) | gzip -1 >"$iso/boot/initrd.gz"
cat >"$iso/boot/grub/grub.cfg" <<'GRUB'
set timeout=0
serial --unit=0 --speed=115200
terminal_output serial
menuentry "tests" {
  linux /boot/vmlinuz console=ttyS0 quiet panic=-1
  initrd /boot/initrd.gz
}
GRUB
grub-mkrescue -o "$work/boot.iso" "$iso" >/dev/null 2>&1

# A Skylake-X core (AVX-512F/CD/BW/DQ/VL); the display is a VNC server that
# nobody connects to; the console goes to a file; no sound (Debian's Bochs
# 2.7 aborts in its ALSA mixer thread on a machine without a sound card).
cat >"$work/bochsrc" <<BOCHS
megs: 1024
cpu: model=corei7_skylake_x, ips=400000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$work/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$work/serial.txt
display_library: rfb, options="timeout=0"
log: $work/bochs.log
panic: action=fatal
error: action=report
clock: sync=none
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
BOCHS

echo "== booting the emulated machine (bochs, corei7_skylake_x)"
rm -f "$work/serial.txt"
started=$SECONDS
# Debian's Bochs starts in its debugger: `c` continues. It exits when the
# guest powers off.
echo c | bochs -q -f "$work/bochsrc" >"$work/bochs.out" 2>&1 &
bochs_pid=$!
trap 'kill $bochs_pid 2>/dev/null || true' EXIT
limit=${AVX512_EMULATED_TIMEOUT:-3600}
while ! grep -aq '^EMU DONE' "$work/serial.txt" 2>/dev/null; do
    if ! kill -0 $bochs_pid 2>/dev/null; then
        echo "bochs stopped before the tests finished:"
        tail -20 "$work/bochs.out" "$work/bochs.log" 2>/dev/null || true
        break
    fi
    if ((SECONDS - started > limit)); then
        echo "timed out after $limit s"
        break
    fi
    sleep 5
done
kill $bochs_pid 2>/dev/null || true
trap - EXIT

# The serial console ends its lines with CR LF.
tr -d '\r' <"$work/serial.txt" >"$work/console.txt"
grep -a '^EMU' "$work/console.txt" || true
echo "(emulated run: $((SECONDS - started)) s; the guest's whole console is in $work/console.txt)"
runs=$(grep -ac '^EMU RESULT' "$work/console.txt" || true)
passed=$(grep -ac '^EMU RESULT .* ok$' "$work/console.txt" || true)
if ! grep -aq '^EMU CPU .*avx512f=true' "$work/console.txt" || ((runs == 0 || passed != runs)) ||
    ! grep -aq '^EMU DONE' "$work/console.txt"; then
    echo "AVX-512 emulated tests: FAILED ($passed of $runs runs passed)"
    exit 1
fi
echo "AVX-512 emulated tests: all $runs runs passed"
