#!/usr/bin/env bash
# Compile time of a model against its depth: builds a binary whose network
# is an input of 64 features and N `Dense(64, relu)` layers (plus a softmax
# head of 10), using `forward`, `forward_batch`, `loss_and_grad` and
# `train_step` in f32 so all the generated code is compiled, and prints the
# wall time of `cargo build --release` of that crate alone (staticnet and
# its dependencies are built first and not counted).
#
#     tools/compile_time.sh            # N = 4 16 64
#     tools/compile_time.sh 8 32       # other depths
#     DISTINCT=1 tools/compile_time.sh # widths 64, 65, 66, …: no two layers
#                                      # share a shape (nor generic code)
#     CONV=1 tools/compile_time.sh 20  # a convolutional model of N layers on
#                                      # (16, 16, 3) images: Conv2D 3×3,
#                                      # DepthwiseConv2D, BatchNormalization,
#                                      # MaxPooling2D, SeparableConv2D in turn
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${COMPILE_TIME_DIR:-$repo/target/compile-time}"
depths=("$@")
if [ ${#depths[@]} -eq 0 ]; then depths=(4 16 64); fi
mkdir -p "$work"
kind="${CONV:+conv}${DISTINCT:+distinct}"
kind="${kind:-dense}"

# The layers of the convolutional model, in turn; the image stays 16×16
# (every layer keeps its size) but for one pooling.
conv_layer() {
  case $(( $1 % 5 )) in
    1) echo "Conv2D(16, 3, padding = \"same\", activation = relu)" ;;
    2) echo "DepthwiseConv2D(3, padding = \"same\")" ;;
    3) echo "BatchNormalization()" ;;
    4) if [ "$1" = 4 ]; then echo "MaxPooling2D(2)"; else echo "Activation(relu)"; fi ;;
    0) echo "SeparableConv2D(16, 3, padding = \"same\", activation = relu)" ;;
  esac
}

make_crate() {
  local n=$1 dir="$work/layers$1-$kind"
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<EOF
[package]
name = "layers$n-$kind"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
staticnet = { path = "$repo" }

[workspace]
EOF
  local size=64 batch=32
  if [ -n "${CONV:-}" ]; then size=768; batch=2; fi
  {
    echo "use staticnet::nalgebra::{SMatrix, SVector};"
    echo "staticnet::network! {"
    echo "    pub struct Deep {"
    if [ -n "${CONV:-}" ]; then
      echo "        let x = Input(shape = (16, 16, 3));"
      echo "        let h = Conv2D(16, 3, padding = \"same\", activation = relu)(x);"
      for i in $(seq 2 "$n"); do echo "        let h = $(conv_layer "$i")(h);"; done
      echo "        let h = GlobalAveragePooling2D()(h);"
    else
      echo "        let x = Input(64);"
      for i in $(seq 1 "$n"); do
        local width=64
        if [ -n "${DISTINCT:-}" ]; then width=$((63 + i)); fi
        if [ "$i" = 1 ]; then echo "        let h = Dense($width, activation = relu)(x);"; else echo "        let h = Dense($width, activation = relu)(h);"; fi
      done
    fi
    echo "        let y = Dense(10, activation = softmax)(h);"
    echo "        Model(x, y);"
    echo "        compile(optimizer = adam, loss = categorical_crossentropy, metrics = [accuracy]);"
    echo "    }"
    echo "}"
    cat <<EOF
fn main() {
    let mut model = Deep::<f32>::new(1);
    let x = SVector::<f32, $size>::repeat(0.5);
    let xb = SMatrix::<f32, $size, $batch>::repeat(0.5);
    let yb = SMatrix::<f32, 10, $batch>::from_fn(|i, j| if i == j % 10 { 1.0 } else { 0.0 });
    let mut grads = Deep::<f32>::zeros();
    let mut optimizer = Deep::<f32>::optimizer();
    let loss = model.loss_and_grad::<$batch>(&xb, &yb, &mut grads);
    let step = model.train_step::<$batch>(&mut optimizer, &xb, &yb);
    println!("{:?} {:?} {} {}", model.forward(&x)[0], model.forward_batch::<$batch>(&xb)[0], loss.total, step.total);
}
EOF
  } > "$dir/src/main.rs"
}

for n in "${depths[@]}"; do make_crate "$n"; done
# Build staticnet and its dependencies once, outside the timing.
CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --manifest-path "$work/layers${depths[0]}-$kind/Cargo.toml"

if [ -n "${CONV:-}" ]; then echo "| layers (convolutional) | cargo build --release (s) |"; else echo "| Dense(64) layers | cargo build --release (s) |"; fi
echo "|---|---|"
for n in "${depths[@]}"; do
  dir="$work/layers$n-$kind"
  touch "$dir/src/main.rs"
  start=$(date +%s.%N)
  CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --manifest-path "$dir/Cargo.toml"
  end=$(date +%s.%N)
  printf "| %s | %.1f |\n" "$n" "$(echo "$end - $start" | bc -l)"
done
