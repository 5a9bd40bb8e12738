#!/usr/bin/env bash
# The GPU code path without a GPU: the library's backend suite and one example run on
# burn-wgpu, whose cubecl kernels (JIT compiled, 32-bit integers, asynchronous
# execution) are burn-cuda's. On a machine without a GPU, Mesa's lavapipe (Debian
# package `mesa-vulkan-drivers`) runs Vulkan on the CPU.
#
#   scripts/wgpu-check.sh            # installs lavapipe with apt when it can
#   scripts/wgpu-check.sh --no-install
#
# Without a Vulkan driver (and no way to install one) it prints a loud SKIPPED
# banner and exits 0, so CI on such a machine still runs everything else; set
# WGPU_REQUIRED=1 to make that an error instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/apt-install.sh

install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

has_vulkan() { compgen -G '/usr/share/vulkan/icd.d/*.json' >/dev/null || compgen -G '/etc/vulkan/icd.d/*.json' >/dev/null; }

if ! has_vulkan && [ "$install" = 1 ] && command -v apt-get >/dev/null; then
  echo "== no Vulkan driver: installing Mesa's lavapipe (mesa-vulkan-drivers)" >&2
  apt_install_bounded mesa-vulkan-drivers || true
fi
if ! has_vulkan; then
  cat >&2 <<'EOF'
##########################################################################
##  SKIPPED: the wgpu backend suite and the example's wgpu run.          ##
##  No Vulkan driver on this machine (none in /usr/share/vulkan/icd.d)   ##
##  and none could be installed. Install mesa-vulkan-drivers to run it.  ##
##########################################################################
EOF
  [ "${WGPU_REQUIRED:-0}" = 1 ] && exit 1
  exit 0
fi

started=$SECONDS
# Mesa probes Wayland/X11 through XDG_RUNTIME_DIR and complains when it is unset.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
echo "== backend suite on burn-wgpu (cargo test --features wgpu --test backends)" >&2
log="$(mktemp)"
if ! cargo test --features wgpu --test backends -- --nocapture --test-threads 1 >"$log" 2>&1; then
  tail -n 60 "$log" >&2
  echo "error: the backend suite failed on burn-wgpu (log above)" >&2
  exit 1
fi
# The deviations each backend reached, and the verdicts.
grep -E '^(ndarray|flex|wgpu):|^test |test result' "$log"
rm -f "$log"

echo "== the example on burn-wgpu: 2 epochs of a width-4 ResNet-18, then a resume to 3" >&2
cargo build --features wgpu --example cifar10_resnet18
binary="${CARGO_TARGET_DIR:-target}/debug/examples/cifar10_resnet18"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$binary" --backend wgpu --synthetic 96 --base-width 4 --epochs 2 --batch-size 16 \
  --cutmix-alpha 1 --mix-mode elem --out-dir "$work/run" --quiet
"$binary" --resume "$work/run" --epochs 3 --quiet
rows=$(($(wc -l < "$work/run/metrics.csv") - 1))
if [ "$rows" != 3 ]; then
  echo "error: metrics.csv of the wgpu run holds $rows epochs, expected 3" >&2
  cat "$work/run/metrics.csv" >&2
  exit 1
fi
echo "wgpu check passed in $((SECONDS - started)) s (suite, example build, 3 epochs)" >&2
