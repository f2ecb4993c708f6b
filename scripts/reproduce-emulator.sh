#!/usr/bin/env bash
# Runs the sweep behind docs/reproduction.md: every model (calibrated synthetic requests) on the
# paper's two meshes at its three batch sizes and five policies, plus the real Llama-4 sample. JSON
# rows go to work/reproduction/<name>.json; the tables in docs/reproduction.md are made from them.
# Prints each run's wall time and the whole sweep's, with the load average before and after (the
# machine may be shared: the wall time means little without it).
# Usage: scripts/reproduce-emulator.sh [PASSES] [EXTRA]   (default 128 passes per batch size, the
# paper's run length; EXTRA=1 also runs the enhanced-die, FP8 and real-sample rows)
set -euo pipefail
cd "$(dirname "$0")/.."
passes="${1:-128}"
extra="${2:-0}"
out=work/reproduction
mkdir -p "$out"
# 128 passes at batch 16384 keep the selections of every request in memory: Qwen3 reached 8.6 GB resident.
export EXPERTCAST_JAVA_OPTS="${EXPERTCAST_JAVA_OPTS:--Xmx10g}"
load() { cut -d' ' -f1-3 /proc/loadavg; }
start=$(date +%s.%N)
echo "sweep: $passes passes per batch size, load average $(load), $(nproc) cores" >&2
run() { # name, args...
  local name="$1"; shift
  echo "== $name: simulate $*" >&2
  /usr/bin/time -f "$name: %e s wall, %U s user, %M KB max RSS" bin/expertcast simulate "$@" --format json > "$out/$name.json"
}
for model in deepseek-v3 qwen3-235b llama4-maverick; do
  run "$model" --synth "$model" --requests 16384 --mesh dojo-5x5,tsmc-sow-8x3 --batch 4096,8192,16384 --passes "$passes"
done
# Kimi-K2 in BF16 needs 81 GB of expert weights per die on a 25-die wafer (72 GB usable): FP8, its released precision.
run kimi-k2-fp8 --synth kimi-k2 --requests 16384 --mesh dojo-5x5,tsmc-sow-8x3 --batch 4096,8192,16384 --passes "$passes" --bytes-per-param 1
end=$(date +%s.%N)
printf 'sweep (4 models x 2 meshes x 3 batch sizes x 5 policies x %s passes): %.0f s wall, load average now %s\n' \
  "$passes" "$(echo "$end - $start" | bc)" "$(load)" >&2
if [ "$extra" = 1 ]; then
  run deepseek-v3-enhanced --synth deepseek-v3 --requests 16384 --mesh dojo-enhanced --batch 4096,16384 --passes "$passes"
  run deepseek-v3-fp8 --synth deepseek-v3 --requests 16384 --mesh dojo-5x5 --batch 4096,16384 --passes "$passes" --bytes-per-param 1
  # The real sample: 235 Llama-4 requests of the paper's public traces, when EXPERTCAST_TRACES points at
  # them (docs/formats.md); the repository bundles 30 of them in data/sample.
  if [ -n "${EXPERTCAST_TRACES:-}" ] && [ -d "$EXPERTCAST_TRACES/core12345" ]; then
    run llama4-real --traces "$EXPERTCAST_TRACES/core12345" --mesh dojo-5x5,tsmc-sow-8x3 --batch 64,128,235
  fi
fi
