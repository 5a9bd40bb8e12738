#!/usr/bin/env bash
# kill -9 at random moments: starts a small synthetic run of the example, SIGKILLs it
# at a random moment, resumes it (`--resume`), and so on N times, then lets it finish
# and checks what a crash must never break:
#   - every epoch appears exactly once in metrics.csv, in order, with finite values;
#   - every checkpoint file verifies (header, configuration fingerprint, checksum);
#   - config.json is valid JSON, curves.svg is whole, no temporary file is left;
#   - every resume after a kill started (exit 0 or killed again, never an error),
#     and the final one finished the run.
#
#   scripts/kill-resume.sh                  # 5 kills (what .ci/run does)
#   scripts/kill-resume.sh --count 20       # by hand
#   scripts/kill-resume.sh --binary target/release/examples/cifar10_resnet18
# Options: --epochs (default: 10 per kill, so that kills land inside the run),
# --images N (synthetic training images, default 240: with width 2 an epoch takes
# about a third of a second in a debug build on 2 cores, so the kills land inside
# the run), --window S (each kill lands at a uniformly random moment in the first S
# seconds of its process; default 4).
set -euo pipefail

count=5
binary=""
epochs=""
window=4
images=240
seed="${KILL_SEED:-$RANDOM}"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --images) images="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  binary="${CARGO_TARGET_DIR:-target}/debug/examples/cifar10_resnet18"
fi
[ -n "$epochs" ] || epochs=$((10 * count))
[ -x "$binary" ] || { echo "error: no example binary at $binary (cargo build --example cifar10_resnet18)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run="$work/run"
RANDOM=$seed
echo "kill -9 test: $count kills, $epochs epochs, random seed $seed, $binary" >&2

# One training process in the background; its pid in $pid.
start() {
  if [ -f "$run/config.json" ]; then
    "$binary" --resume "$run" --epochs "$epochs" --quiet >>"$work/log" 2>&1 &
  else
    "$binary" --synthetic "$images" --base-width 2 --batch-size 8 --epochs "$epochs" \
      --out-dir "$run" --quiet >>"$work/log" 2>&1 &
  fi
  pid=$!
}

kills=0 resumed=0 finished_early=0
for i in $(seq 1 "$count"); do
  start
  # A random moment in the window: start-up, data, inside an epoch, during a save.
  sleep "$(awk -v r=$RANDOM -v w="$window" 'BEGIN { printf "%.3f", r / 32768 * w }')"
  if kill -9 "$pid" 2>/dev/null; then
    kills=$((kills + 1))
    wait "$pid" 2>/dev/null || true
  else
    # It ended before the kill: it must have ended well.
    if wait "$pid"; then finished_early=$((finished_early + 1)); else
      echo "FAIL: a run exited with an error before kill $i:" >&2; tail -5 "$work/log" >&2; exit 1
    fi
  fi
  [ "$i" -gt 1 ] && resumed=$((resumed + 1))
  rows=$( [ -f "$run/metrics.csv" ] && tail -n +2 "$run/metrics.csv" | wc -l || echo 0)
  echo "  kill $i/$count: $( [ "$kills" -ge "$i" ] && echo killed || echo 'had finished') with $rows epochs in metrics.csv" >&2
  [ "$rows" -ge "$epochs" ] && break
done

# Let it finish: resume until every epoch is done (a resume must never fail).
rows=$( [ -f "$run/metrics.csv" ] && tail -n +2 "$run/metrics.csv" | wc -l || echo 0)
if [ "$rows" -lt "$epochs" ]; then
  start
  wait "$pid" || { echo "FAIL: the final resume exited with an error:" >&2; tail -20 "$work/log" >&2; exit 1; }
fi
if grep -E "panicked|^error" "$work/log" >&2; then echo "FAIL: a run panicked or failed (above)" >&2; exit 1; fi

python3 - "$run" "$epochs" <<'PY'
import json, math, os, sys
run, epochs = sys.argv[1], int(sys.argv[2])
def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
rows = [l.split(",") for l in open(os.path.join(run, "metrics.csv")).read().split()]
seen = [int(r[0]) for r in rows[1:]]
assert seen == list(range(1, epochs + 1)), f"epochs in metrics.csv: {seen}"
assert all(math.isfinite(float(v)) for r in rows[1:] for v in r), "a non-finite value"
json.load(open(os.path.join(run, "config.json")))
assert open(os.path.join(run, "curves.svg")).read().rstrip().endswith("</svg>"), "curves.svg torn"
ckpt = os.path.join(run, "checkpoint")
files = sorted(os.listdir(ckpt))
for name in files:
    data = open(os.path.join(ckpt, name), "rb").read()
    assert data[:8] == b"BMXCKP03", f"{name}: bad header"
    assert fnv1a(data[:-8]) == int.from_bytes(data[-8:], "little"), f"{name}: checksum"
for parts in [("model", "optim", "scheduler")]:
    for p in parts:
        assert f"{p}-{epochs}.bmx" in files, f"{p}-{epochs}.bmx missing: {files}"
temps = [f for d in (run, ckpt) for f in os.listdir(d) if f.endswith(".tmp")]
assert not temps, f"temporary files left: {temps}"
print(f"checked: epochs 1..{epochs} once each, {len(files)} checkpoint files verify, no temporary files")
PY
echo "kill -9 test passed: $kills of $count attempts killed a running process, $resumed resumes, all resumed and the run finished ($finished_early had finished before the kill)"
