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
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${COMPILE_TIME_DIR:-$repo/target/compile-time}"
depths=("$@")
if [ ${#depths[@]} -eq 0 ]; then depths=(4 16 64); fi
mkdir -p "$work"

make_crate() {
  local n=$1 dir="$work/layers$1${DISTINCT:+-distinct}"
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<EOF
[package]
name = "layers$n${DISTINCT:+-distinct}"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
staticnet = { path = "$repo" }

[workspace]
EOF
  {
    echo "use staticnet::nalgebra::{SMatrix, SVector};"
    echo "staticnet::network! {"
    echo "    pub struct Deep {"
    echo "        let x = Input(64);"
    for i in $(seq 1 "$n"); do
      local width=64
      if [ -n "${DISTINCT:-}" ]; then width=$((63 + i)); fi
      if [ "$i" = 1 ]; then echo "        let h = Dense($width, activation = relu)(x);"; else echo "        let h = Dense($width, activation = relu)(h);"; fi
    done
    echo "        let y = Dense(10, activation = softmax)(h);"
    echo "        Model(x, y);"
    echo "        compile(optimizer = adam, loss = categorical_crossentropy, metrics = [accuracy]);"
    echo "    }"
    echo "}"
    cat <<'EOF'
fn main() {
    let mut model = Deep::<f32>::new(1);
    let x = SVector::<f32, 64>::repeat(0.5);
    let xb = SMatrix::<f32, 64, 32>::repeat(0.5);
    let yb = SMatrix::<f32, 10, 32>::from_fn(|i, j| if i == j % 10 { 1.0 } else { 0.0 });
    let mut grads = Deep::<f32>::zeros();
    let mut optimizer = Deep::<f32>::optimizer();
    let loss = model.loss_and_grad::<32>(&xb, &yb, &mut grads);
    let step = model.train_step::<32, _>(&mut optimizer, &xb, &yb);
    println!("{:?} {:?} {} {}", model.forward(&x)[0], model.forward_batch::<32>(&xb)[0], loss.total, step.total);
}
EOF
  } > "$dir/src/main.rs"
}

for n in "${depths[@]}"; do make_crate "$n"; done
# Build staticnet and its dependencies once, outside the timing.
CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --manifest-path "$work/layers${depths[0]}${DISTINCT:+-distinct}/Cargo.toml"

echo "| Dense(64) layers | cargo build --release (s) |"
echo "|---|---|"
for n in "${depths[@]}"; do
  dir="$work/layers$n${DISTINCT:+-distinct}"
  touch "$dir/src/main.rs"
  start=$(date +%s.%N)
  CARGO_TARGET_DIR="$work/target" cargo build --release --quiet --manifest-path "$dir/Cargo.toml"
  end=$(date +%s.%N)
  printf "| %s | %.1f |\n" "$n" "$(echo "$end - $start" | bc -l)"
done
