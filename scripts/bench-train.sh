#!/usr/bin/env bash
# Training-step throughput of seqdiff vs the PyTorch reference, same model
# (dna-small: vocab 12, d 128, 4 layers, 4 heads, length 1024, batch 8,
# AdamW), same machine, same run, 2 threads each, for mdlm and ar.
# Prints tokens/s (median step), peak memory (torch: /usr/bin/time -v
# maximum resident set size; seqdiff: VmHWM) and the ratios.
# Usage: scripts/bench-train.sh [STEPS] [WARMUP]   (defaults 5 and 2, as torch_ref.py)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref=${TORCH_REF:-$root/../shared/reference/torch_ref.py}
py=${PYTHON:-/usr/bin/python3}
steps=${1:-5}
warmup=${2:-2}
threads=${THREADS:-2}
[ -f "$ref" ] || { echo "bench-train: $ref not found (set TORCH_REF)" >&2; exit 2; }
# The same OpenBLAS kernel choice for both sides: the environment's, else Haswell.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
export OMP_NUM_THREADS=$threads
make -C "$root" build >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/seqdiff-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE threads=$threads steps=$steps warmup=$warmup $(nproc) cpus"
for mode in mdlm ar; do
  /usr/bin/time -v "$py" "$ref" bench --mode "$mode" --threads "$threads" --steps "$steps" --warmup "$warmup" \
    >"$work/torch-$mode.json" 2>"$work/torch-$mode.time"
  "$root/bin/seqdiff" bench train --mode "$mode" --preset dna-small --threads "$threads" \
    --steps "$steps" --warmup "$warmup" --json >"$work/seqdiff-$mode.json"
  "$py" - "$mode" "$work" <<'PY'
import json, re, sys
mode, work = sys.argv[1], sys.argv[2]
t = json.load(open(f"{work}/torch-{mode}.json"))
s = json.load(open(f"{work}/seqdiff-{mode}.json"))
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/torch-{mode}.time").read())
t_mib = int(rss.group(1)) / 1024 if rss else float("nan")
ratio = s["tokens_per_s"] / t["tokens_per_s"]
print(f"{mode:4s}  torch {t['tokens_per_s']:8.0f} tok/s  {t['step_s_median']:.3f} s/step  peak {t_mib:6.0f} MiB ({t['impl']})")
print(f"{mode:4s}  seqdiff {s['tokens_per_s']:6.0f} tok/s  {s['step_s_median']:.3f} s/step  peak {s['peak_rss_mib']:6.0f} MiB ({s['backend']})")
print(f"{mode:4s}  ratio {ratio:.2f}x tokens/s (target >= 6x)  memory seqdiff/torch {s['peak_rss_mib'] / t_mib:.2f} (target <= 1)")
PY
done
