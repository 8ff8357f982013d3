#!/usr/bin/env bash
# make test-cuda-emu: every test of compute/cuda and compute/backend (the
# kernel parity tests, the CUDA training tests, the NVRTC compile check,
# the seeded bugs, NCCL) and data-parallel GPU training (mpirun) against
# the emulated CUDA device in build/cuda-emu
# (make cuda-emu). A skipped test fails the run: under the emulator every
# CUDA test must run. Kernels are compiled afresh (an empty cache), so the
# NVRTC path is tested too.
set -uo pipefail
cd "$(dirname "$0")/.."
emu=$PWD/build/cuda-emu
if [ ! -f "$emu/libseqdiff_cuda_emu.so" ]; then
  echo "test-cuda-emu: $emu/libseqdiff_cuda_emu.so missing: run make cuda-emu" >&2
  exit 2
fi
cache=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$cache" "$log"' EXIT
export SEQDIFF_CUDA_LIBS=$emu SEQDIFF_NVRTC_TEST=1 XDG_CACHE_HOME=$cache CGO_ENABLED=0
export GOEXPERIMENT=${GOEXPERIMENT:-simd}
t0=$SECONDS
go test -count=1 -timeout 20m -v ./compute/cuda ./compute/backend >"$log" 2>&1
rc=$?
# Data-parallel training on GPU ranks (NCCL's stand-in joins the ranks'
# emulated devices); needs mpirun (openmpi-bin).
go test -count=1 -timeout 10m -v -run 'TestPretrainMPIGPU' ./cmd/seqdiff >>"$log" 2>&1 || rc=1
grep -E '^(--- |    --- |ok|FAIL|PASS|panic)|cuda-emu|auto chose|closing the shared' "$log" | grep -v '^=== RUN'
pass=$(grep -cE '^ *--- PASS' "$log")
fail=$(grep -cE '^ *--- FAIL' "$log")
skip=$(grep -cE '^ *--- SKIP' "$log")
echo "test-cuda-emu: $pass passed, $fail failed, $skip skipped in $((SECONDS - t0))s (exit $rc)"
if ! grep -q 'auto chose cuda (seqdiff CUDA emulator' "$log"; then
  echo "test-cuda-emu: compute/backend's auto did not choose the emulated device" >&2
  rc=1
fi
if [ "$skip" -gt 0 ]; then
  echo "test-cuda-emu: skipped under the emulator (every CUDA test must run):" >&2
  grep -E -A1 '^ *--- SKIP' "$log" >&2
  rc=1
fi
[ "$rc" -eq 0 ] || { echo "test-cuda-emu: FAILED" >&2; exit 1; }
