#!/usr/bin/env bash
# GPU check of the CUDA backend, in one device call of a few minutes.
#
#   scripts/gpu-check.sh build   # HERE (no GPU needed): CGO_ENABLED=0 binaries into gpu-bundle/
#   scripts/gpu-check.sh run     # ON THE GPU MACHINE (no Go there): parity tests, then benchmarks
#
# build writes gpu-bundle/ (ignored through .git/info/exclude, so the device
# tool must carry it): bin/seqdiff, the test binaries cuda.test and
# backend.test, and a copy of shared/reference/torch_ref.py (../shared does
# not travel). run, on the GPU machine, in the repository root:
#   1. the parity tests of compute/cuda (TestNVRTCCompile skipped: New compiles anyway) (every kernel against compute/cpu on
#      fresh random inputs, one nn training step, 200-step loss curves) and
#      compute/backend (auto picks the GPU);
#   2. seqdiff bench train --device cuda (mdlm) at dna-small (d 128, 4 layers,
#      4 heads, length 1024, batch 8) and at a larger shape (d 512, 8 layers,
#      8 heads, length 1024, batch 32), float32 and with SEQDIFF_TF32=1,
#      against torch_ref.py bench --device cuda, eager and --compile, on the
#      same GPU in the same run; one --profile run of the larger shape;
#   3. a table on stdout, and $OUT/gpu-check.json (date, GPU, tokens/s,
#      ratios to PyTorch eager and compiled) for bench/results/.
# The device tool call (also in bench/results/README.md), after
# `scripts/gpu-check.sh build` here:
#   run(command="scripts/gpu-check.sh run", carry=["gpu-bundle"], timeout_s=480)
# Then copy the returned gpu-check.json to bench/results/gpu-check-<date>-<gpu>.json
# and commit it. Each step has its own timeout so one hang cannot eat the
# lease; logs of every step are in $OUT too.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=$root/gpu-bundle
cmd=${1:-}

build() {
  set -e
  local ref=${TORCH_REF:-$root/../shared/reference/torch_ref.py}
  rm -rf "$bundle"
  mkdir -p "$bundle/bin"
  # Ignored locally (not in .gitignore: CI never builds it), so it travels only when carried.
  local excl
  excl=$(git -C "$root" rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$excl")"
  grep -qx '/gpu-bundle/' "$excl" 2>/dev/null || echo '/gpu-bundle/' >>"$excl"
  cd "$root"
  export CGO_ENABLED=0 GOEXPERIMENT=${GOEXPERIMENT:-simd}
  go build -trimpath -ldflags "-s -w -X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$bundle/bin/seqdiff" ./cmd/seqdiff
  go test -c -o "$bundle/cuda.test" ./compute/cuda
  go test -c -o "$bundle/backend.test" ./compute/backend
  [ -f "$ref" ] && cp "$ref" "$bundle/torch_ref.py" || echo "gpu-check: $ref not found: PyTorch comparison will be skipped" >&2
  du -sh "$bundle"
  echo "now: run(command=\"scripts/gpu-check.sh run\", carry=[\"gpu-bundle\"], timeout_s=480)"
}

run() {
  local out=${OUT:-$root/gpu-check-out}
  mkdir -p "$out"
  local res=$out/results.jsonl
  : >"$res"
  [ -x "$bundle/bin/seqdiff" ] || { echo "gpu-check: $bundle/bin/seqdiff missing: run 'scripts/gpu-check.sh build' here and carry gpu-bundle"; exit 2; }
  echo "== gpu-check $(date -u +%FT%TZ) on $(hostname)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | head -3
  local py=${PYTHON:-python3}
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' 2>&1 | tail -1
  # Where the libraries are (compute/cuda searches these; SEQDIFF_CUDA_LIBS overrides).
  ls /usr/local/cuda*/lib64/ /usr/local/nvidia/lib64/ /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib/ 2>/dev/null |
    grep -E '^/|libcuda.so|nvrtc.so|cublas(Lt)?.so' | head -30
  export SEQDIFF_CUDA_LIBS=${SEQDIFF_CUDA_LIBS:-}

  echo "== 1. parity tests (compute/cuda vs compute/cpu)"
  local t0=$SECONDS
  (cd "$root/compute/cuda" && timeout 240 "$bundle/cuda.test" -test.v -test.count=1 -test.timeout=230s -test.skip TestNVRTCCompile) >"$out/parity.log" 2>&1
  local prc=$?
  grep -E '^(--- |=== RUN|ok|FAIL|PASS)|parity_test|train_gpu_test|nvrtc_test|helpers_gpu' "$out/parity.log" | grep -v '^=== RUN' | tail -80
  echo "parity tests: exit $prc in $((SECONDS - t0))s"
  (cd "$root/compute/backend" && timeout 60 "$bundle/backend.test" -test.v -test.count=1) 2>&1 | grep -E 'auto chose|no GPU|^(--- |ok|FAIL|PASS)'

  echo "== 2. training-step benchmarks"
  local small="--preset dna-small --batch 8"
  local large="--preset dna-small --d-model 512 --n-layers 8 --n-heads 8 --seq-len 1024 --batch 32"
  record() { # name, json line; stderr of the run is appended to errors.txt
    { echo "== $1"; cat /tmp/gpu-check-err.txt; } >>"$out/errors.txt"
    if [ -n "$2" ] && [ "${2:0:1}" = "{" ]; then
      echo "{\"run\":\"$1\",\"result\":$2}" >>"$res"
      echo "$1: $2"
    else
      echo "$1: FAILED: $(tail -3 /tmp/gpu-check-err.txt)"
    fi
  }
  ours() { # name, tf32, steps, warmup, shape...
    local name=$1 tf=$2 steps=$3 warm=$4; shift 4
    local line
    line=$(SEQDIFF_TF32=$tf timeout 120 "$bundle/bin/seqdiff" bench train --device cuda --mode mdlm --timed-steps "$steps" --untimed-steps "$warm" --json "$@" 2>/tmp/gpu-check-err.txt | tail -1)
    record "$name" "$line"
  }
  theirs() { # name, steps, warmup, extra...
    local name=$1 steps=$2 warm=$3; shift 3
    [ -f "$bundle/torch_ref.py" ] || return 0
    local line
    line=$(timeout 180 "$py" "$bundle/torch_ref.py" bench --device cuda --mode mdlm --steps "$steps" --warmup "$warm" "$@" 2>/tmp/gpu-check-err.txt | tail -1)
    record "$name" "$line"
  }
  # Most informative first: if the lease runs out, results.jsonl holds what ran.
  local tsmall="--d 128 --layers 4 --heads 4 --seq-len 1024 --batch 8"
  local tlarge="--d 512 --layers 8 --heads 8 --seq-len 1024 --batch 32"
  ours seqdiff-small 0 20 3 $small
  theirs torch-small-eager 20 3 $tsmall
  ours seqdiff-large 0 8 2 $large
  theirs torch-large-eager 8 2 $tlarge
  ours seqdiff-small-tf32 1 20 3 $small
  ours seqdiff-large-tf32 1 8 2 $large
  echo "== profile of the larger shape (syncs after every kernel)"
  timeout 90 "$bundle/bin/seqdiff" bench train --device cuda --mode mdlm --timed-steps 2 --untimed-steps 1 --profile $large >"$out/profile-large.txt" 2>&1
  tail -25 "$out/profile-large.txt"
  theirs torch-small-compile 20 3 $tsmall --compile
  theirs torch-large-compile 8 2 $tlarge --compile

  echo "== 3. summary"
  local gpu
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  "$py" - "$res" "$out/gpu-check.json" "$gpu" "$prc" <<'PY'
import json, sys, datetime
res, dst, gpu, prc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
runs = {}
for line in open(res):
    line = line.strip()
    if line:
        r = json.loads(line)
        runs[r["run"]] = r["result"]
tps = {k: v.get("tokens_per_s") for k, v in runs.items()}
rows = []
for shape in ("small", "large"):
    eager, comp = tps.get(f"torch-{shape}-eager"), tps.get(f"torch-{shape}-compile")
    for k in (f"seqdiff-{shape}", f"seqdiff-{shape}-tf32", f"torch-{shape}-eager", f"torch-{shape}-compile"):
        v = tps.get(k)
        rows.append({"run": k, "shape": shape, "tokens_per_s": v,
                     "vs_torch_eager": (v / eager) if v and eager else None,
                     "vs_torch_compile": (v / comp) if v and comp else None,
                     "backend": runs.get(k, {}).get("backend") or runs.get(k, {}).get("impl")})
out = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "gpu": gpu,
       "parity_tests_exit": prc,
       "shapes": {"small": "dna-small: vocab 12, d 128, 4 layers, 4 heads, length 1024, batch 8, mdlm, fp32",
                  "large": "vocab 12, d 512, 8 layers, 8 heads, length 1024, batch 32, mdlm, fp32"},
       "rows": rows, "raw": runs}
json.dump(out, open(dst, "w"), indent=1)
print(f"GPU: {gpu}   parity tests exit {prc}")
print(f"{'run':24s} {'tokens/s':>12s} {'x eager':>8s} {'x compile':>9s}")
for r in rows:
    f = lambda x, p: (p % x) if x else "-"
    print(f"{r['run']:24s} {f(r['tokens_per_s'], '%12.0f'):>12s} {f(r['vs_torch_eager'], '%8.2f'):>8s} {f(r['vs_torch_compile'], '%9.2f'):>9s}")
PY
}

case $cmd in
build) build ;;
run)
  out=${OUT:-$root/gpu-check-out}
  mkdir -p "$out"
  run 2>&1 | tee "$out/gpu-check.log" # a pipeline, so the table is printed before the script exits
  ;;
*) echo "usage: scripts/gpu-check.sh build|run" >&2; exit 2 ;;
esac
