#!/usr/bin/env bash
# docs/placement.md's table (issue 5, item 6): max/mean GPU load of SGLang's real DeepSeek-V3
# loads for 8, 16 and 32 GPUs with 0, 8 and 32 redundant experts, EPLB beside our policies, each
# figure the mean over the 58 MoE layers of (busiest GPU's load / mean GPU load), an expert's load
# split evenly over its replicas. Every placement is made on PLACE_FILE; the in-sample row measures
# it on the same counts, the out-of-sample row on MEASURE_FILE (`place --measure`).
# Usage: scripts/placement-table.sh [PLACE_FILE MEASURE_FILE]...
#   default: decode_in1000out1000 -> decode_in500out1500 and prefill_in4096 -> decode_in1000out1000
#   from $EXPERTCAST_TRACES/sglang-ep-stats/deepseek-v3 (the paper's public traces, docs/formats.md;
#   the bundled data/sample copy when unset).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${EXPERTCAST_TRACES:-/nonexistent}/sglang-ep-stats/deepseek-v3
if [ $# -eq 0 ]; then
  if [ -d "$dir" ]; then
    set -- "$dir/decode_in1000out1000.json" "$dir/decode_in500out1500.json" \
           "$dir/prefill_in4096.json" "$dir/decode_in1000out1000.json"
  else
    bundled=data/sample/sglang-ep-stats/deepseek-v3/decode_in1000out1000.json
    set -- "$bundled" "$bundled"
  fi
fi
[ $(( $# % 2 )) -eq 0 ] || { echo "usage: $0 [PLACE_FILE MEASURE_FILE]..." >&2; exit 2; }

# One placement: prints "in-sample out-of-sample" (3 decimals), or "n/a n/a" when 256 + R does not
# split evenly over the GPUs (the only combinations refused here).
cell() { # place_file measure_file policy replicas gpus
  local replicas="$4" gpus="$5"
  if [ $(( (256 + replicas) % gpus )) -ne 0 ]; then echo "n/a n/a"; return; fi
  local nodes=$(( gpus / 8 )); [ "$nodes" -ge 1 ] || nodes=1
  bin/expertcast place --policy "$3" --load "$1" --measure "$2" --dies "$gpus" --replicas "$replicas" \
      --groups 8 --nodes "$nodes" \
    | sed -n -e 's/^max\/mean load per die: \([0-9.]*\) (mean.*/\1/p' \
             -e 's/^max\/mean load per die measured on .*: \([0-9.]*\) (mean.*/\1/p' | paste -sd' '
}

columns=("even 0" "eplb 0" "eplb 8" "eplb 32" "hot-replicate 8" "hot-replicate 32" "pair-separate 0" "pair-separate 8" "pair-separate 32")
echo "| placed on -> measured on | GPUs | even | EPLB R=0 | EPLB R=8 | EPLB R=32 | hot-replicate R=8 | hot-replicate R=32 | pair-separate R=0 | pair-separate R=8 | pair-separate R=32 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
while [ $# -gt 0 ]; do
  place_file="$1" measure_file="$2"; shift 2
  p=$(basename "$place_file" .json) m=$(basename "$measure_file" .json)
  for gpus in 8 16 32; do
    inside="| $p (in-sample) | $gpus |" outside="| $p -> $m | $gpus |"
    for c in "${columns[@]}"; do
      read -r a b <<< "$(cell "$place_file" "$measure_file" $c "$gpus" | sed 's/^$/? ?/')"
      inside="$inside $a |" outside="$outside $b |"
    done
    echo "$inside"
    [ "$place_file" = "$measure_file" ] || echo "$outside"
  done
done
