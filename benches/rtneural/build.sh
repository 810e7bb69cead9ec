#!/usr/bin/env bash
# Builds RTNeural's side of benches/rtneural.rs: bench.cpp (RTNeural's
# compile-time API, one `model.forward(&x)` per time step) in six variants,
# {Eigen, xsimd} x {default x86-64 flags, -march=x86-64-v3 (AVX2 and FMA),
# -march=native}, with RTNeural's CMake alignment settings (16, or 32 with
# its AVX option):
#
#   $OUT/bench_eigen_default  $OUT/bench_xsimd_default
#   $OUT/bench_eigen_v3       $OUT/bench_xsimd_v3
#   $OUT/bench_eigen_native   $OUT/bench_xsimd_native
#
# OUT defaults to target/rtneural (of this repository, or $CARGO_TARGET_DIR).
# A binary is rebuilt only when it is older than bench.cpp or this script
# (FORCE=1 rebuilds all). Progress goes to stderr.
#
# RTNeural's headers (commit 1fb1f075a5d6, BSD-3) and xsimd's (a00c81f7, the
# submodule commit RTNeural pins, BSD-3) are not in this repository; the
# first of these that exists is used:
#   1. $RTNEURAL_VENDOR (a directory holding RTNeural/, modules/json/json.hpp
#      and xsimd/include/, the layout of the anchors' vendor/ directory);
#   2. ../shared/anchors/rtneural/vendor beside this repository's root;
#   3. target/rtneural-vendor, cloned here at the pinned commits on first use
#      (RTNeural's repository carries modules/json/json.hpp, the nlohmann
#      json header its model_loader.h includes; only xsimd is a submodule,
#      cloned separately into xsimd/). RTNEURAL_GIT and XSIMD_GIT override
#      the clone URLs (a local mirror, say).
# Eigen is Debian's libeigen3-dev (/usr/include/eigen3, or $EIGEN_INCLUDE),
# installed with apt-get when missing and this runs as root.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="${OUT:-$TARGET/rtneural}"
CXX="${CXX:-g++}"
RTNEURAL_COMMIT=1fb1f075a5d66e85bfc8f488c3f3626840cb3a1d
XSIMD_COMMIT=a00c81f7b9e808a42aedcf7da2fbb1f9a636da34
RTNEURAL_GIT="${RTNEURAL_GIT:-https://github.com/jatinchowdhury18/RTNeural}"
XSIMD_GIT="${XSIMD_GIT:-https://github.com/xtensor-stack/xsimd}"
say() { echo "rtneural/build.sh: $*" >&2; }

# Checks out `commit` of `url` into `dir` (a shallow fetch of the commit,
# else the whole history).
checkout() {
    local url=$1 commit=$2 dir=$3
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    git -C "$dir.tmp" init -q
    if ! git -C "$dir.tmp" fetch -q --depth 1 "$url" "$commit" 2>/dev/null; then
        git -C "$dir.tmp" fetch -q "$url"
    fi
    git -C "$dir.tmp" -c advice.detachedHead=false checkout -q "$commit"
    mv "$dir.tmp" "$dir"
}

# ---- the headers
if [ -n "${RTNEURAL_VENDOR:-}" ]; then
    VENDOR="$RTNEURAL_VENDOR"
elif [ -d "$REPO/../shared/anchors/rtneural/vendor/RTNeural" ]; then
    VENDOR="$(cd "$REPO/../shared/anchors/rtneural/vendor" && pwd)"
else
    VENDOR="$TARGET/rtneural-vendor"
    if [ ! -f "$VENDOR/.complete" ]; then
        command -v git >/dev/null || { say "git is needed to fetch RTNeural (or set RTNEURAL_VENDOR)"; exit 2; }
        say "cloning RTNeural at ${RTNEURAL_COMMIT:0:12} and xsimd at ${XSIMD_COMMIT:0:8} into $VENDOR"
        rm -rf "$VENDOR"
        checkout "$RTNEURAL_GIT" "$RTNEURAL_COMMIT" "$VENDOR"
        checkout "$XSIMD_GIT" "$XSIMD_COMMIT" "$VENDOR/xsimd"
        touch "$VENDOR/.complete"
    fi
fi
for need in RTNeural/RTNeural.h modules/json/json.hpp xsimd/include/xsimd/xsimd.hpp; do
    [ -f "$VENDOR/$need" ] || { say "no $need under $VENDOR"; exit 2; }
done

# ---- the compiler and Eigen
if ! command -v "$CXX" >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing g++"
        { apt-get update && apt-get install -y g++; } >&2
    else
        say "no $CXX (apt-get install g++, as root)"; exit 2
    fi
fi
EIGEN="${EIGEN_INCLUDE:-/usr/include/eigen3}"
if [ ! -f "$EIGEN/Eigen/Dense" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing libeigen3-dev"
        { apt-get update && apt-get install -y libeigen3-dev; } >&2
    else
        say "no Eigen at $EIGEN (apt-get install libeigen3-dev, as root, or set EIGEN_INCLUDE)"; exit 2
    fi
fi

# ---- the four binaries
COMMON=(-std=c++17 -O3 -DNDEBUG -I"$VENDOR")
DEF=(-DRTNEURAL_DEFAULT_ALIGNMENT=16)                 # RTNeural's CMake without its AVX option
NAT=(-march=native -DRTNEURAL_DEFAULT_ALIGNMENT=32)   # RTNeural's CMake with RTNEURAL_USE_AVX
V3=(-march=x86-64-v3 -DRTNEURAL_DEFAULT_ALIGNMENT=32) # the same for any CPU with AVX2 and FMA
EIG=(-DRTNEURAL_USE_EIGEN=1 -I"$EIGEN")
XS=(-DRTNEURAL_USE_XSIMD=1 -I"$VENDOR/xsimd/include")
mkdir -p "$OUT"
say "headers from $VENDOR; $("$CXX" --version | head -n1)"
build() {
    local name=$1; shift
    local bin="$OUT/bench_$name"
    if [ -z "${FORCE:-}" ] && [ "$bin" -nt "$HERE/bench.cpp" ] && [ "$bin" -nt "$HERE/build.sh" ]; then
        return
    fi
    say "building bench_$name"
    "$CXX" "${COMMON[@]}" "$@" "$HERE/bench.cpp" -o "$bin.tmp"
    mv "$bin.tmp" "$bin"
}
build eigen_default "${DEF[@]}" "${EIG[@]}"
build eigen_native "${NAT[@]}" "${EIG[@]}"
build eigen_v3 "${V3[@]}" "${EIG[@]}"
build xsimd_default "${DEF[@]}" "${XS[@]}"
build xsimd_native "${NAT[@]}" "${XS[@]}"
build xsimd_v3 "${V3[@]}" "${XS[@]}"
echo "$OUT"
