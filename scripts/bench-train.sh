#!/usr/bin/env bash
# Training-step throughput of seqdiff vs the PyTorch reference, same model
# (dna-small: vocab 12, d 128, 4 layers, 4 heads, length 1024, batch 8,
# AdamW), same machine, same run, THREADS (default 2) threads each, for
# mdlm and ar. Prints tokens/s (median step), peak memory (torch:
# /usr/bin/time -v maximum resident set size; seqdiff: VmHWM) and ratios.
# The machine may be shared: each side runs ROUNDS times (default 2),
# alternating, and each side's best round counts (every round is printed).
# Usage: scripts/bench-train.sh [STEPS] [WARMUP]   (defaults 5 and 2, as torch_ref.py)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref=${TORCH_REF:-$root/../shared/reference/torch_ref.py}
py=${PYTHON:-/usr/bin/python3}
steps=${1:-5}
warmup=${2:-2}
threads=${THREADS:-2}
rounds=${ROUNDS:-2}
[ -f "$ref" ] || { echo "bench-train: $ref not found (set TORCH_REF)" >&2; exit 2; }
# The same OpenBLAS kernel choice for both sides: the environment's, else Haswell.
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
export OMP_NUM_THREADS=$threads
make -C "$root" build >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/seqdiff-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE threads=$threads steps=$steps warmup=$warmup rounds=$rounds; $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in mdlm ar; do
  for r in $(seq "$rounds"); do
    /usr/bin/time -v "$py" "$ref" bench --mode "$mode" --threads "$threads" --steps "$steps" --warmup "$warmup" \
      >"$work/torch-$mode-$r.json" 2>"$work/torch-$mode-$r.time"
    /usr/bin/time -v "$root/bin/seqdiff" bench train --mode "$mode" --preset dna-small --threads "$threads" \
      --timed-steps "$steps" --untimed-steps "$warmup" --json >"$work/seqdiff-$mode-$r.json" 2>"$work/seqdiff-$mode-$r.time"
  done
  "$py" - "$mode" "$work" "$rounds" "$((steps + warmup))" <<'PY'
import json, re, sys
mode, work, rounds, nsteps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
best, cpu = {}, {}
def cpu_s(path):
    txt = open(path).read()
    return sum(float(re.search(k + r" \(seconds\): ([\d.]+)", txt).group(1)) for k in ("User time", "System time"))
for r in range(1, rounds + 1):
    t = json.load(open(f"{work}/torch-{mode}-{r}.json"))
    s = json.load(open(f"{work}/seqdiff-{mode}-{r}.json"))
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/torch-{mode}-{r}.time").read())
    t["peak_rss_mib"] = int(rss.group(1)) / 1024 if rss else float("nan")
    for name, d in (("torch", t), ("seqdiff", s)):
        # CPU seconds of the whole process (start-up included) per step,
        # warm-up steps counted: less sensitive to other jobs than wall time.
        c = cpu_s(f"{work}/{name}-{mode}-{r}.time") / nsteps
        print(f"{mode:4s} round {r} {name:7s} {d['tokens_per_s']:8.0f} tok/s  {d['step_s_median']:.3f} s/step  "
              f"peak {d['peak_rss_mib']:6.0f} MiB  process CPU {c:.2f} s/step")
        cpu[name] = min(cpu.get(name, float("inf")), c)
        if name not in best or d["tokens_per_s"] > best[name]["tokens_per_s"]:
            best[name] = d
t, s = best["torch"], best["seqdiff"]
print(f"{mode:4s} best    torch {t['tokens_per_s']:.0f} tok/s ({t['impl']}), seqdiff {s['tokens_per_s']:.0f} tok/s ({s['backend']})")
print(f"{mode:4s} CPU-time ratio {cpu['torch'] / cpu['seqdiff']:.2f}x (process CPU seconds per step, best rounds; less load-sensitive)")
print(f"{mode:4s} ratio {s['tokens_per_s'] / t['tokens_per_s']:.2f}x tokens/s (target >= 6x); "
      f"peak memory {s['peak_rss_mib']:.0f} vs {t['peak_rss_mib']:.0f} MiB = {s['peak_rss_mib'] / t['peak_rss_mib']:.2f} (target <= 1)")
PY
done
