#!/usr/bin/env bash
# The GPU performance check: our example binary (a CUDA or a wgpu build) vs the same
# ResNet-18 step in PyTorch, on one GPU, in well under 8 minutes.
#
# On the build machine (has Rust, no GPU; a CUDA build downloads Burn's LLVM bundle
# once, so it needs a network; a wgpu build does not):
#   cargo build --release --features cuda --example cifar10_resnet18    # or --features wgpu
#   mkdir -p gpu-bin && cp target/release/examples/cifar10_resnet18 gpu-bin/ && strip gpu-bin/cifar10_resnet18
# On the GPU host (CUDA or a Vulkan driver, PyTorch, no Rust, no internet):
#   scripts/gpu-check.sh --binary gpu-bin/cifar10_resnet18 --out gpu-check.json
# --backend cuda|wgpu picks the backend; by default the first of the two the binary
# was built with.
# Here, without a GPU, to test the script itself (CPU build, tiny model and steps):
#   cargo build --example cifar10_resnet18 && scripts/gpu-check.sh --dry-run
#
# Measures, at batch 128 in f32: images/s of a full training step (loader, mixing,
# forward, loss, backward, SGD) for mixup + label smoothing and for the plain
# baseline (--alpha 0 --smoothing 0); then PyTorch eager f32 and channels-last +
# bf16 autocast on the same GPU. Then two short epochs through burn-train's
# SupervisedTraining and a resume to a third (checkpoints, metrics.csv). Writes a
# JSON of every figure and prints a table.
set -euo pipefail

binary="target/release/examples/cifar10_resnet18"
out="gpu-check.json"
dry_run=0
steps=60
warmup=15
batch=128
width=64
python="${PYTHON:-python3}"
backend=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --backend) backend="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
here="$(cd "$(dirname "$0")" && pwd)"
if [ "$dry_run" = 1 ]; then
  [ -x "$binary" ] || binary="target/debug/examples/cifar10_resnet18"
  steps=2; warmup=1; batch=8; width=4
fi
if [ ! -x "$binary" ]; then
  echo "error: no example binary at $binary; build it first (see the top of this script)" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
timeout_s=200
[ "$dry_run" = 1 ] && timeout_s=120

# The GPU backend the binary has: a build without it refuses `--backend X` at once,
# before it trains or writes anything.
has_backend() {
  local said
  said=$("$binary" --backend "$1" --synthetic 8 --bench-steps 1 --bench-warmup 0 --batch-size 8 \
    --base-width 1 --quiet --out-dir "$work/probe-$1" 2>&1 || true)
  ! grep -q "without \`--features $1\`" <<<"$said"
}
if [ "$backend" = auto ]; then
  if has_backend cuda; then backend=cuda
  elif has_backend wgpu; then backend=wgpu
  elif [ "$dry_run" = 1 ]; then backend=flex   # the CPU build: tests the script only
  else
    echo "error: $binary has neither the cuda nor the wgpu backend; build it with --features cuda or wgpu" >&2
    exit 1
  fi
fi
echo "== backend: $backend" >&2
backend_args=(--backend "$backend")

run_ours() { # $1 = label, rest = extra flags
  local label="$1"; shift
  echo "== burn-mixup: $label" >&2
  timeout "$timeout_s" "$binary" --synthetic $((batch * (steps + warmup) + batch)) --out-dir "$work/$label" \
    --batch-size "$batch" --base-width "$width" --bench-steps "$steps" --bench-warmup "$warmup" --quiet \
    "${backend_args[@]}" "$@" \
    | tail -n 1 > "$work/$label.json"
  cat "$work/$label.json" >&2
}
run_ours mixup_smoothing
run_ours plain --alpha 0 --smoothing 0

echo "== burn-train: 2 epochs, then --resume to 3" >&2
train_images=$((batch * 8))
timeout "$timeout_s" "$binary" --synthetic "$train_images" --out-dir "$work/run" --epochs 2 \
  --batch-size "$batch" --base-width "$width" --quiet "${backend_args[@]}" >&2
timeout "$timeout_s" "$binary" --resume "$work/run" --epochs 3 --quiet >&2
cp "$work/run/metrics.csv" "$work/metrics.csv"
cat "$work/metrics.csv" >&2

echo "== PyTorch" >&2
torch_args=(--steps "$steps" --warmup "$warmup" --batch "$batch")
[ "$dry_run" = 1 ] && torch_args+=(--dry-run)
if ! timeout "$timeout_s" "$python" "$here/torch_resnet18_step.py" "${torch_args[@]}" > "$work/torch.json"; then
  echo '{"skipped": "the PyTorch script failed or timed out"}' > "$work/torch.json"
fi
cat "$work/torch.json" >&2

"$python" - "$work" "$out" "$dry_run" <<'PY'
import json, sys, os
work, out, dry = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
ours = {k: json.load(open(os.path.join(work, f"{k}.json"))) for k in ["mixup_smoothing", "plain"]}
torch = json.load(open(os.path.join(work, "torch.json")))
rows = [line.split(",") for line in open(os.path.join(work, "metrics.csv")).read().split()]
epochs = [dict(zip(rows[0], map(float, r))) for r in rows[1:]]
assert [int(e["epoch"]) for e in epochs] == [1, 2, 3], f"burn-train run: epochs {epochs}"
report = {"dry_run": dry, "burn_mixup": ours, "pytorch": torch, "burn_train_epochs": epochs}
json.dump(report, open(out, "w"), indent=2)
rows = [("burn-mixup " + ours[k]["backend"] + " f32, " + k.replace("_", " + "), ours[k]["throughput"]["images_per_second"]) for k in ours]
for key in ["eager_f32_plain", "eager_f32_mixup_smoothing", "channels_last_bf16_plain", "channels_last_bf16_mixup_smoothing"]:
    if key in torch:
        rows.append(("PyTorch " + torch["device"] + " " + key.replace("_", " "), torch[key]["images_per_second"]))
ref = ours["plain"]["throughput"]["images_per_second"]
print(f"\n{'dry run (CPU, tiny model: not a measurement)' if dry else 'GPU check'}: images/s, batch {ours['plain']['throughput']['batch_size']}")
print(f"{'configuration':<58} {'images/s':>10} {'vs ours plain':>14}")
for name, value in rows:
    print(f"{name:<58} {value:>10.1f} {value / ref:>14.3f}")
mix = ours["mixup_smoothing"]["throughput"]["images_per_second"]
print(f"mixup + smoothing cost: mixed/plain step-time ratio = {ref / mix:.3f} (target <= 1.02)")
if "skipped" in torch:
    print("PyTorch: " + torch["skipped"])
print("burn-train run (2 epochs + resume to 3): " + ", ".join(
    f"epoch {int(e['epoch'])} train loss {e['train_loss']:.3f} test acc {e['test_accuracy_pct']:.1f}%" for e in epochs))
print(f"figures written to {out}")
PY
