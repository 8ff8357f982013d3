#!/usr/bin/env bash
# A short real training run: prep the embedded human chr22 slice into rows
# of 256 tokens, then train a small backbone (d 64, 2 layers, 4 heads) for
# STEPS steps of the AR and the MDLM loss on it, printing the mean train
# loss and a fixed valid-batch loss every 20 steps. The loss must fall.
# Usage: scripts/smoke-train.sh [STEPS]   (default 300)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-300}
make -C "$root" build >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/seqdiff-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$root/bin/seqdiff" prep --out "$work/prep" --seq-len 256
for mode in ar mdlm; do
  echo "== $mode"
  "$root/bin/seqdiff" bench train --mode "$mode" --data "$work/prep" --d-model 64 --n-layers 2 --n-heads 4 \
    --seq-len 256 --batch 8 --timed-steps "$steps" --untimed-steps 0 --lr 1e-3 --log-every 20 --seed 1
done
