#!/usr/bin/env bash
# Real images in CI: installs Debian's `dataset-fashion-mnist` (bounded wait), then runs
# the trainer and the ablation on Fashion-MNIST at a reduced size. Where the package
# cannot be had, both run on generated IDX files in the real format instead, and the
# log says so loudly.
#
#   bash scripts/fashion-check.sh [--binary PATH] [--ablation PATH] [--out DIR] [--no-install]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-install.sh
target="${CARGO_TARGET_DIR:-target}"
binary="$target/debug/examples/cifar10_resnet18"
ablation="$target/debug/examples/digits_ablation"
out="$target/fashion-check"
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --ablation) ablation="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

system="${FASHION_MNIST_SYSTEM_DIR:-/usr/share/datasets/fashion-mnist}"
has_files() { [ -s "$system/train-images-idx3-ubyte.gz" ] && [ -s "$system/t10k-labels-idx1-ubyte.gz" ]; }

if ! has_files && [ "$install" = 1 ] && command -v apt-get >/dev/null; then
  echo "== no Fashion-MNIST in $system: installing dataset-fashion-mnist (30 MB)" >&2
  apt_install_bounded dataset-fashion-mnist || true
fi

rm -rf "$out"
mkdir -p "$out"
trainer_data=(--dataset fashion-mnist)
ablation_data=(--dataset fashion-mnist)
if has_files; then
  echo "== Fashion-MNIST from $system: the real images" >&2
else
  cat >&2 <<'BANNER'
##########################################################################
##  NO REAL IMAGES: dataset-fashion-mnist could not be installed, so    ##
##  the trainer and the ablation run on GENERATED IDX files below.      ##
##  Install it (apt-get install dataset-fashion-mnist) for a real run.  ##
##########################################################################
BANNER
  trainer_data+=(--synthetic 600)
  # The trainer writes the generated files; the ablation reads them from there.
  "$binary" "${trainer_data[@]}" --epochs 1 --base-width 4 --quiet --no-download \
    --out-dir "$out/generate" >/dev/null
  ablation_data+=(--data-dir "$out/generate/synthetic-data")
fi

echo "== trainer: ResNet-18 width 4, 500 class-balanced images, 1 epoch, 1,000 test images" >&2
"$binary" "${trainer_data[@]}" --train-size 500 --val-size 100 --test-limit 1000 --base-width 4 \
  --epochs 1 --batch-size 50 --quiet --no-download --out-dir "$out/trainer"
for file in config.json metrics.csv curves.svg calibration.json reliability.svg; do
  test -s "$out/trainer/$file" || { echo "error: the trainer wrote no $file" >&2; exit 1; }
done
grep -Eq '"dataset": *"fashion-mnist"' "$out/trainer/config.json" \
  || { echo "error: config.json does not record the data set" >&2; exit 1; }

echo "== ablation: the CNN, 2 arms, 1 seed, 2 epochs, 200 images" >&2
"$ablation" "${ablation_data[@]}" --arms erm,mixup --seeds 1 --epochs 2 --train-size 200 \
  --calibration-size 100 --out-dir "$out/ablation"
test -s "$out/ablation/summary.csv" && test -s "$out/ablation/ablation.svg"
echo "== fashion check passed" >&2
