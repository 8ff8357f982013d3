#!/usr/bin/env bash
# GPU check of the CUDA backend: the one shot a freshly lent GPU gets, so it
# fails fast, stops in time, and leaves an answer even when it is killed.
#
#   scripts/gpu-check.sh build               # HERE (no GPU needed): stripped CGO_ENABLED=0 binaries into gpu-bundle/
#   scripts/gpu-check.sh run [--no-compile]  # ON THE GPU MACHINE (no Go there), in the repository root
#
# The device tool call (also in bench/results/README.md), after build here:
#   run(command="scripts/gpu-check.sh run", carry=["gpu-bundle"], timeout_s=360)
# The script stops itself by the 300 s deadline (+5 s kill margin, +1 s
# report); 360 only backstops a hang. With a machine start of up to ~3
# minutes that leaves about 6 of the 15 device minutes for one rerun, e.g.
#   run(command="GPU_CHECK_DEADLINE=240 scripts/gpu-check.sh run --no-compile", carry=["gpu-bundle"], timeout_s=290)
# (on the same warm machine the kernel cache in /tmp is still there).
# Copy the returned gpu-check.json to bench/results/gpu-check-<date>-<gpu>.json
# and commit it. Exit status: 0 every step that ran passed, 1 a step failed
# or timed out, 2 preflight failed, 3 a mandatory step did not fit the deadline.
#
# build writes gpu-bundle/ (in .gitignore, so the device tool must carry it):
# bin/seqdiff, the test binaries cuda.test and backend.test (all -s -w,
# -trimpath) and a copy of ../shared/reference/torch_ref.py (../shared does
# not travel); it fails when the bundle exceeds 48 MiB (GPU_BUNDLE_LIMIT_MIB)
# since the device tool moves at most 64 MiB with the working tree.
#
# run executes steps in this order, mandatory first:
#   preflight           seqdiff device --json: libcuda, NVRTC and cuBLAS load and
#                       a GPU is seen, else ONE line saying what is missing, exit 2
#   test-cuda           cuda.test: every kernel against compute/cpu, a training
#                       step, 200-step loss curves (TestNVRTCCompile skipped: it
#                       compiles anyway); test-backend: backend.test
#   seqdiff-small       seqdiff bench train --device cuda, dna-small (d 128, 4 layers,
#                       4 heads, length 1024, batch 8), float32
#   torch-probe, torch-small-eager   torch_ref.py bench --device cuda, same shape
# then optional ones, dropped first when time runs short:
#   seqdiff-large, torch-large-eager (d 512, 8 layers, 8 heads, length 1024,
#   batch 32); the same four with TF32 (SEQDIFF_TF32=1 for seqdiff, TF32 allowed
#   for PyTorch); profile-large (--profile); torch-*-compile (--compile).
# One deadline for the whole run (GPU_CHECK_DEADLINE, default 300 s): a step
# starts only if its minimum fits in the time left and gets min(its cap, time
# left) as timeout; one that does not fit is recorded as SKIP "deadline".
# $OUT/gpu-check.json is rewritten atomically after every step (and names
# the step running), so a killed run still leaves an answer: date, GPU,
# driver, each step's status and seconds, PASS/FAIL/SKIP counts and failing
# test names, tokens/s and ratios to PyTorch. Logs: $OUT/gpu-check.log and
# $OUT/logs/<step>.out|.err.
#
# Like for like: PyTorch runs with TF32 allowed exactly when seqdiff does
# (torch_ref.py has no switch; a wrapper sets torch.backends.*.allow_tf32
# and runs it), NVIDIA_TF32_OVERRIDE=0 on both sides of the float32 rows.
# The compiled kernels are cached under XDG_CACHE_HOME=$GPU_CHECK_CACHE
# (default /tmp/seqdiff-gpu-check-cache: kept on a warm machine between
# reruns, never carried back), so the tests' compile serves the benchmarks.
#
# Environment: GPU_CHECK_DEADLINE (s), GPU_CHECK_COMPILE=0 (same as
# --no-compile), GPU_CHECK_CACHE, GPU_CHECK_TEST_RUN / GPU_CHECK_TEST_SKIP
# (cuda.test's -test.run / -test.skip), PYTHON (the one with torch),
# SEQDIFF_CUDA_LIBS (library folders, searched first), OUT.
# GPU_CHECK_DRY=1 (or --dry): for the CPU emulator of build/cuda-emu,
#   SEQDIFF_CUDA_LIBS=$PWD/build/cuda-emu GPU_CHECK_DRY=1 scripts/gpu-check.sh run
# tiny shapes (d 32, 1 layer, length 64, batch 2, 2 timed steps), cuda.test
# with -test.short and without the loss curves, caps x4, deadline 1200 s;
# without nvidia-smi the GPU name comes from seqdiff device, and without a
# CUDA torch the torch steps are SKIPs with the reason.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bundle=$root/gpu-bundle
cmd=${1:-}

build() {
  set -e
  local ref=${TORCH_REF:-$root/../shared/reference/torch_ref.py}
  local limit=${GPU_BUNDLE_LIMIT_MIB:-48}
  rm -rf "$bundle"
  mkdir -p "$bundle/bin"
  cd "$root"
  export CGO_ENABLED=0 GOEXPERIMENT=${GOEXPERIMENT:-simd}
  # -s -w -trimpath: no symbol table or DWARF, about a third off the test binaries.
  local ld="-s -w"
  go build -trimpath -ldflags "$ld -X main.version=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$bundle/bin/seqdiff" ./cmd/seqdiff
  go test -c -trimpath -ldflags "$ld" -o "$bundle/cuda.test" ./compute/cuda
  go test -c -trimpath -ldflags "$ld" -o "$bundle/backend.test" ./compute/backend
  if [ -f "$ref" ]; then cp "$ref" "$bundle/torch_ref.py"; else echo "gpu-check: $ref not found: the PyTorch steps will be SKIPs" >&2; fi
  "$bundle/bin/seqdiff" version
  local b t
  b=$(du -sb "$bundle" | cut -f1)
  # What else travels: tracked and untracked, not ignored, files.
  t=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  ls -l "$bundle" "$bundle/bin" | grep -v '^total'
  printf 'gpu-bundle: %.1f MiB (limit %d MiB); with the working tree %.1f MiB of the 64 MiB the device tool moves\n' \
    "$(awk "BEGIN{print $b/1048576}")" "$limit" "$(awk "BEGIN{print ($b+$t)/1048576}")"
  if [ "$b" -gt $((limit * 1048576)) ] || [ $((b + t)) -gt $((64 * 1048576)) ]; then
    echo "gpu-check: build FAILED: gpu-bundle too large" >&2
    exit 1
  fi
  echo "now: run(command=\"scripts/gpu-check.sh run\", carry=[\"gpu-bundle\"], timeout_s=360)"
}

# ---------------------------------------------------------------- run state
# The shell keeps plain TSV files under $state; report() turns them and the
# step logs into gpu-check.json (python3, or a printf fallback).

clean() { local s=${1//$'\t'/ }; s=${s//$'\n'/ }; printf '%s' "${s//$'\r'/ }"; }
meta() { printf '%s\t%s\n' "$1" "$(clean "$2")" >>"$state/meta.tsv"; }
now() { printf '%s' "${EPOCHREALTIME:-$SECONDS}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
left() { echo $((deadline - (SECONDS - t0))); }

# record NAME STATUS SECONDS TIMEOUT REASON KIND OPTIONAL SHAPE TF32 COMPILE
record() {
  local IFS=$'\t' f=() a
  for a in "$@"; do f+=("$(clean "$a")"); done
  echo "${f[*]}" >>"$state/steps.tsv"
}

# step NAME KIND OPTIONAL CAP NEED SHAPE TF32 COMPILE -- CMD...: runs CMD
# (stdout, stderr into logs/NAME.out|.err) with timeout min(CAP, time
# left), or records a SKIP: after a failed preflight, or when fewer than
# NEED seconds are left. NEED 0 (the preflight) runs whatever is left,
# with timeout CAP. Returns CMD's status (1 for a SKIP).
step() {
  local name=$1 kind=$2 opt=$3 cap=$(($4 * capscale)) need=$5 shape=$6 tf=$7 comp=$8
  shift 9
  local l t
  l=$(left)
  if [ -n "$abort" ]; then
    record "$name" SKIP 0 0 "$abort" "$kind" "$opt" "$shape" "$tf" "$comp"
    return 1
  fi
  if [ "$need" -gt 0 ] && { [ "$l" -lt "$need" ] || [ "$l" -le 0 ]; }; then
    record "$name" SKIP 0 0 "deadline" "$kind" "$opt" "$shape" "$tf" "$comp"
    echo "gpu-check: SKIP    $name (deadline: ${l}s left, needs ${need}s)"
    report
    return 1
  fi
  t=$((cap < l || need == 0 ? cap : l))
  printf '%s\t%s\t%s\n' "$name" "$((SECONDS - t0))" "$t" >"$state/running"
  running=$name running_start=$(now)
  report
  local s0 rc dt st reason=""
  s0=$(now)
  # In the background, so a TERM to this script runs its trap at once.
  timeout -k 5 "$t" "$@" >"$logs/$name.out" 2>"$logs/$name.err" </dev/null &
  child=$!
  wait "$child"
  rc=$?
  child=
  dt=$(since "$s0")
  case $rc in
  0) st=PASS ;;
  124 | 137)
    st=TIMEOUT reason="killed after ${t}s"
    [ "$t" -lt "$cap" ] && reason="$reason (deadline)"
    ;;
  *) st=FAIL reason="exit $rc" ;;
  esac
  if [ "$kind" = gotest ] && grep -q '^panic: test timed out' "$logs/$name.out" "$logs/$name.err"; then
    st=TIMEOUT reason="Go's -test.timeout, in $(grep -A3 '^running tests:' "$logs/$name.out" "$logs/$name.err" | grep -oE 'Test[^ ]+' | tr '\n' ' ')"
  fi
  record "$name" "$st" "$dt" "$t" "$reason" "$kind" "$opt" "$shape" "$tf" "$comp"
  : >"$state/running"
  running=
  report
  printf 'gpu-check: %-7s %s %ss%s\n' "$st" "$name" "$dt" "$(summary "$name" "$kind")"
  return $rc
}

# summary NAME KIND: a few words for the progress line.
summary() {
  local o=$logs/$1.out e=$logs/$1.err
  case $2 in
  gotest)
    local p f s
    p=$(grep -cE '^ *--- PASS' "$o") f=$(grep -cE '^ *--- FAIL' "$o") s=$(grep -cE '^ *--- SKIP' "$o")
    printf ' (pass %s, fail %s, skip %s)' "$p" "$f" "$s"
    [ "$f" -gt 0 ] && printf ' failed: %s' "$(sed -nE 's/^ *--- FAIL: ([^ ]+).*/\1/p' "$o" | head -8 | tr '\n' ' ')"
    grep -q '^panic: test timed out' "$o" "$e" && printf ' [Go test timeout]'
    ;;
  bench)
    local tps
    tps=$(grep '^{' "$o" | tail -1 | sed -nE 's/.*"tokens_per_s": *([0-9.eE+-]+).*/\1/p')
    if [ -n "$tps" ]; then printf ' %.0f tokens/s' "$tps"; else printf ': %s' "$(tail -1 "$e" | cut -c1-200)"; fi
    ;;
  esac
}

# report [table]: gpu-check.json from $state and the logs, atomically.
report() {
  if [ -n "$jsonpy" ] && "$jsonpy" -c "$REPORT_PY" "$state" "$logs" "$json" "$((SECONDS - t0))" "${1:-}"; then
    return 0
  fi
  report_sh
}

jstr() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$(clean "$s")"; }

# report_sh: the fallback without python3: steps, test counts, raw rows.
report_sh() {
  local tmp=$json.tmp k v first=1 name st sec to reason kind opt shape tf comp
  local -A m=()
  # Tabs are IFS white space (runs of them merge): read through \037.
  while IFS=$'\037' read -r k v; do m[$k]=$v; done < <(tr '\t' '\037' <"$state/meta.tsv")
  {
    printf '{"schema":2,"writer":"sh","date":%s,"gpu":%s,"driver":%s,' "$(jstr "${m[date]:-}")" "$(jstr "${m[gpu]:-}")" "$(jstr "${m[driver]:-}")"
    printf '"dry":%s,"deadline_s":%s,"elapsed_s":%s,"finished":%s,"exit_code":%s,' \
      "${m[dry]:-false}" "$deadline" "$((SECONDS - t0))" "${m[finished]:-false}" "${m[exit_code]:-null}"
    printf '"running":%s,"preflight_error":%s,"steps":[' "$(jstr "$running")" "$(jstr "${m[preflight_error]:-}")"
    while IFS=$'\037' read -r name st sec to reason kind opt shape tf comp; do
      [ $first = 1 ] || printf ','
      first=0
      printf '{"name":%s,"status":%s,"seconds":%s,"timeout_s":%s,"reason":%s,"optional":%s}' \
        "$(jstr "$name")" "$(jstr "$st")" "${sec:-0}" "${to:-0}" "$(jstr "$reason")" "$([ "$opt" = 1 ] && echo true || echo false)"
    done < <(tr '\t' '\037' <"$state/steps.tsv")
    printf '],"tests":{'
    first=1
    for name in test-cuda test-backend; do
      [ -f "$logs/$name.out" ] || continue
      [ $first = 1 ] || printf ','
      first=0
      printf '%s:{"pass":%s,"fail":%s,"skip":%s,"failed":[' "$(jstr "$name")" \
        "$(grep -cE '^ *--- PASS' "$logs/$name.out")" "$(grep -cE '^ *--- FAIL' "$logs/$name.out")" "$(grep -cE '^ *--- SKIP' "$logs/$name.out")"
      local f2=1 t
      while read -r t; do
        [ -n "$t" ] || continue
        [ $f2 = 1 ] || printf ','
        f2=0
        jstr "$t"
      done < <(sed -nE 's/^ *--- FAIL: ([^ ]+).*/\1/p' "$logs/$name.out")
      printf ']}'
    done
    printf '},"raw":{'
    first=1
    while IFS=$'\037' read -r name st sec to reason kind opt shape tf comp; do
      [ "$kind" = bench ] && [ "$st" = PASS ] || continue
      v=$(grep '^{.*}$' "$logs/$name.out" | tail -1)
      [ -n "$v" ] || continue
      [ $first = 1 ] || printf ','
      first=0
      printf '%s:%s' "$(jstr "$name")" "$v"
    done < <(tr '\t' '\037' <"$state/steps.tsv")
    printf '}}\n'
  } >"$tmp" && mv -f "$tmp" "$json"
  [ "${1:-}" = table ] && awk -F'\t' '{printf "%-24s %-8s %6s  %s\n", $1, $2, $3, $5}' "$state/steps.tsv"
  return 0
}

REPORT_PY=$(
  cat <<'PY'
import datetime, json, os, re, sys

state, logs, dst, elapsed = sys.argv[1:5]
table = len(sys.argv) > 5 and sys.argv[5] == "table"

def rows(path):
    try:
        with open(path) as f:
            return [l.rstrip("\n").split("\t") for l in f if l.strip()]
    except OSError:
        return []

def text(name, ext):
    try:
        with open(os.path.join(logs, name + ext), errors="replace") as f:
            return f.read()
    except OSError:
        return ""

meta = {r[0]: (r[1] if len(r) > 1 else "") for r in rows(os.path.join(state, "meta.tsv"))}
cols = ["name", "status", "seconds", "timeout_s", "reason", "kind", "optional", "shape", "tf32", "compile"]
steps = []
for r in rows(os.path.join(state, "steps.tsv")):
    s = dict(zip(cols, r + [""] * (len(cols) - len(r))))
    s["seconds"] = float(s["seconds"] or 0)
    s["timeout_s"] = int(float(s["timeout_s"] or 0))
    s["optional"] = s["optional"] == "1"
    s["tf32"] = s["tf32"] == "1"
    s["compile"] = s["compile"] == "1"
    steps.append(s)

run = rows(os.path.join(state, "running"))
running = {"step": run[0][0], "started_at_s": int(run[0][1]), "timeout_s": int(run[0][2])} if run and len(run[0]) >= 3 else None

def gotest(name):
    out = text(name, ".out") + "\n" + text(name, ".err")
    res = {"pass": 0, "fail": 0, "skip": 0, "failed": [], "top_level": {"pass": 0, "fail": 0, "skip": 0}}
    for m in re.finditer(r"^( *)--- (PASS|FAIL|SKIP): (\S+)", out, re.M):
        k = m.group(2).lower()
        res[k] += 1
        if not m.group(1):
            res["top_level"][k] += 1
        if k == "fail":
            res["failed"].append(m.group(3))
    t = re.search(r"^panic: test timed out after (\S+)\n(?:.*\n)*?\s*running tests:\n((?:\s+\S+ \(.*\)\n)*)", out, re.M)
    if t:
        res["go_timeout"] = t.group(1)
        res["running_at_timeout"] = re.findall(r"^\s+(\S+) \(", t.group(2), re.M)
    res["binary_result"] = "PASS" if re.search(r"^PASS$", out, re.M) else ("FAIL" if re.search(r"^FAIL$", out, re.M) else None)
    return res

def last_json(name):
    for line in reversed(text(name, ".out").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None

tests, raw, bench = {}, {}, []
for s in steps:
    if s["kind"] == "gotest" and s["status"] != "SKIP":
        tests[s["name"]] = gotest(s["name"])
    if s["kind"] == "bench" and s["status"] == "PASS":
        r = last_json(s["name"])
        if r is not None:
            raw[s["name"]] = r
            bench.append((s, r))
totals = {k: sum(t[k] for t in tests.values()) for k in ("pass", "fail", "skip")}
totals["failed"] = [f"{n}: {f}" for n, t in tests.items() for f in t["failed"]]

def tf_line(name):
    m = re.search(r"^gpu-check: torch (allow_tf32=.*)$", text(name, ".err"), re.M)
    return m.group(1) if m else None

out_rows = []
for s, r in bench:
    torch = s["name"].startswith("torch-")
    out_rows.append({"run": s["name"], "impl": "pytorch" if torch else "seqdiff", "shape": s["shape"],
                     "tf32": s["tf32"], "compile": s["compile"], "profile": s["name"].startswith("profile"),
                     "tokens_per_s": r.get("tokens_per_s"), "step_s_median": r.get("step_s_median"),
                     "version": r.get("impl"), "backend": r.get("backend"),
                     "torch_tf32": tf_line(s["name"]) if torch else None})
def ref(shape, tf32, compile_):
    for x in out_rows:
        if x["impl"] == "pytorch" and x["shape"] == shape and x["tf32"] == tf32 and x["compile"] == compile_:
            return x["tokens_per_s"]
for x in out_rows:
    for key, comp in (("vs_torch_eager", False), ("vs_torch_compile", True)):
        r, v = ref(x["shape"], x["tf32"], comp), x["tokens_per_s"]
        x[key] = round(v / r, 3) if v and r and not x["profile"] and not (x["impl"] == "pytorch" and x["compile"] == comp) else None

def jsonish(v):
    try:
        return json.loads(v)
    except ValueError:
        return v or None

cache = meta.get("cache", "")
try:
    cached = len(os.listdir(os.path.join(cache, "seqdiff", "cuda"))) if cache else None
except OSError:
    cached = 0
report = {
    "schema": 2, "writer": "python",
    "date": meta.get("date"), "updated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "finished": meta.get("finished") == "true", "exit_code": int(meta["exit_code"]) if meta.get("exit_code") else None,
    "host": meta.get("host"), "gpu": meta.get("gpu") or None, "gpu_source": meta.get("gpu_source") or None,
    "driver": meta.get("driver") or None, "gpu_memory": meta.get("gpu_memory") or None,
    "dry": meta.get("dry") == "true", "deadline_s": int(meta.get("deadline", 0) or 0),
    "elapsed_s": int(elapsed), "running": running,
    "preflight": {"status": next((s["status"] for s in steps if s["name"] == "preflight"), None),
                  "error": meta.get("preflight_error") or None, "device": jsonish(meta.get("device_json", ""))},
    "torch": jsonish(meta.get("torch_json", "")), "torch_skip_reason": meta.get("torch_skip") or None,
    "tf32_env": {"NVIDIA_TF32_OVERRIDE": meta.get("nvidia_tf32_override") or None},
    "kernel_cache": {"dir": os.path.join(cache, "seqdiff", "cuda") if cache else None,
                     "files_before": int(meta.get("cache_before", 0) or 0), "files_now": cached},
    "shapes": {"small": meta.get("shape_small"), "large": meta.get("shape_large")},
    "tests": tests, "test_totals": totals,
    "steps": steps, "rows": out_rows,
    "profile": raw.get("profile-large", {}).get("profile"),
    "raw": raw,
}
tmp = dst + ".tmp"
with open(tmp, "w") as f:
    json.dump(report, f, indent=1)
    f.write("\n")
os.replace(tmp, dst)

def print_table():
    print(f"GPU: {report['gpu']}   driver: {report['driver']}   tests: pass {totals['pass']}, fail {totals['fail']}, skip {totals['skip']}")
    for f in totals["failed"][:20]:
        print("  FAILED", f)
    print(f"{'step':24s} {'status':8s} {'s':>6s}  reason")
    for s in steps:
        print(f"{s['name']:24s} {s['status']:8s} {s['seconds']:6.1f}  {s['reason']}")
    if out_rows:
        print(f"{'run':24s} {'tokens/s':>12s} {'x eager':>8s} {'x compile':>9s}")
        fmt = lambda x, p: (p % x) if x else "-"
        for x in out_rows:
            print(f"{x['run']:24s} {fmt(x['tokens_per_s'], '%12.0f'):>12s} {fmt(x['vs_torch_eager'], '%8.2f'):>8s} {fmt(x['vs_torch_compile'], '%9.2f'):>9s}")

if table:
    try:  # after a TERM, tee may be gone: the JSON is what matters
        print_table()
        sys.stdout.flush()
    except OSError:
        os._exit(0)
PY
)

# torch_ref.py has no TF32 switch: set PyTorch's own flags (the legacy ones:
# inductor still reads them, and mixing them with fp32_precision raises),
# say so on stderr, then run the reference as __main__.
TORCH_WRAP='import runpy, sys, torch
tf = sys.argv[1] == "1"
torch.backends.cuda.matmul.allow_tf32 = tf
torch.backends.cudnn.allow_tf32 = tf
print("gpu-check: torch allow_tf32=%s float32_matmul_precision=%s" % (torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision()), file=sys.stderr)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")'

# tfenv TF32: the environment of either side. Off: NVIDIA_TF32_OVERRIDE=0
# keeps cuBLAS off the tensor cores whatever the process asks for, and
# PyTorch's TORCH_ALLOW_TF32_CUBLAS_OVERRIDE must not turn them on; on: an
# inherited NVIDIA_TF32_OVERRIDE=0 would silently turn them off.
tfenv() {
  if [ "$1" = 1 ]; then echo "env -u NVIDIA_TF32_OVERRIDE SEQDIFF_TF32=1"; else echo "env -u TORCH_ALLOW_TF32_CUBLAS_OVERRIDE NVIDIA_TF32_OVERRIDE=0 SEQDIFF_TF32=0"; fi
}

# ours NAME OPTIONAL CAP NEED SHAPE TF32 STEPS WARMUP [--profile]
ours() {
  local name=$1 opt=$2 cap=$3 need=$4 shape=$5 tf=$6 steps=$7 warm=$8
  shift 8
  local sh=$small
  [ "$shape" = large ] && sh=$large
  # shellcheck disable=SC2046,SC2086
  step "$name" bench "$opt" "$cap" "$need" "$shape" "$tf" 0 -- $(tfenv "$tf") "$bin" bench train --device cuda --mode mdlm \
    --timed-steps "$steps" --untimed-steps "$warm" --json $sh "$@"
}

# theirs NAME OPTIONAL CAP NEED SHAPE TF32 COMPILE STEPS WARMUP
theirs() {
  local name=$1 opt=$2 cap=$3 need=$4 shape=$5 tf=$6 comp=$7 steps=$8 warm=$9
  local sh=$tsmall extra=()
  [ "$shape" = large ] && sh=$tlarge
  [ "$comp" = 1 ] && extra=(--compile)
  if [ -z "$abort" ] && [ -n "$torch_skip" ]; then
    record "$name" SKIP 0 0 "$torch_skip" bench "$opt" "$shape" "$tf" "$comp"
    report
    return 1
  fi
  # shellcheck disable=SC2046,SC2086
  step "$name" bench "$opt" "$cap" "$need" "$shape" "$tf" "$comp" -- $(tfenv "$tf") "$py" -c "$TORCH_WRAP" "$tf" "$bundle/torch_ref.py" \
    bench --device cuda --mode mdlm --steps "$steps" --warmup "$warm" $sh ${extra[@]+"${extra[@]}"}
}

# preflight_line: one line on what the failed preflight lacks.
preflight_line() {
  local o=$logs/preflight.out e=$logs/preflight.err miss=()
  if grep -q '^{' "$o" 2>/dev/null; then
    grep -q '"driver_lib":""' "$o" && miss+=("libcuda.so.1 (NVIDIA driver)")
    grep -q '"nvrtc_lib":""' "$o" && miss+=("NVRTC (libnvrtc.so.*)")
    grep -q '"cublas_lib":""' "$o" && miss+=("cuBLAS (libcublas.so.*)")
  fi
  if [ ${#miss[@]} -gt 0 ]; then
    local list
    list=$(printf '%s, ' "${miss[@]}")
    printf 'not found: %s; searched SEQDIFF_CUDA_LIBS=%s, LD_LIBRARY_PATH, /usr/local/cuda*/lib64, /usr/local/nvidia/lib64, /usr/lib/x86_64-linux-gnu, pip nvidia/*/lib (full message in logs/preflight.err)' \
      "${list%, }" "${SEQDIFF_CUDA_LIBS:-(unset)}"
  elif [ -s "$e" ]; then
    grep -v '^$' "$e" | head -1 | cut -c1-400
  else
    printf 'seqdiff device gave no answer (%s)' "$(sed -n '$p' "$state/steps.tsv" | cut -f5)"
  fi
}

run() {
  local a compile=${GPU_CHECK_COMPILE:-1} dry=${GPU_CHECK_DRY:-0}
  for a in "$@"; do
    case $a in
    --no-compile) compile=0 ;;
    --dry) dry=1 ;;
    *) echo "gpu-check: run: unknown option $a (want --no-compile, --dry)"; return 2 ;;
    esac
  done
  t0=$SECONDS
  capscale=1
  deadline=${GPU_CHECK_DEADLINE:-300}
  if [ "$dry" = 1 ]; then
    capscale=4 deadline=${GPU_CHECK_DEADLINE:-1200}
  fi
  state=$out/state logs=$out/logs json=$out/gpu-check.json
  rm -rf "$state" "$logs" "$json"
  mkdir -p "$state" "$logs"
  : >"$state/steps.tsv"
  : >"$state/running"
  : >"$state/meta.tsv"
  abort='' running='' running_start='' child='' torch_skip=''
  bin=$bundle/bin/seqdiff
  py=${PYTHON:-python3}
  jsonpy=$(command -v python3 || true)
  [ "${GPU_CHECK_JSON_WRITER:-}" = sh ] && jsonpy=''
  # One kernel cache for every step: the tests compile, the benchmarks load.
  export XDG_CACHE_HOME=${GPU_CHECK_CACHE:-${TMPDIR:-/tmp}/seqdiff-gpu-check-cache}
  mkdir -p "$XDG_CACHE_HOME"
  meta date "$(date -u +%FT%TZ)"
  meta host "$(hostname 2>/dev/null)"
  meta deadline "$deadline"
  meta dry "$([ "$dry" = 1 ] && echo true || echo false)"
  meta cache "$XDG_CACHE_HOME"
  meta cache_before "$(find "$XDG_CACHE_HOME/seqdiff/cuda" -type f 2>/dev/null | wc -l)"
  meta nvidia_tf32_override "${NVIDIA_TF32_OVERRIDE:-}"
  if [ "$dry" = 1 ]; then
    small="--preset dna-small --d-model 32 --n-layers 1 --n-heads 2 --seq-len 64 --batch 2"
    large="--preset dna-small --d-model 64 --n-layers 2 --n-heads 2 --seq-len 128 --batch 2"
    tsmall="--d 32 --layers 1 --heads 2 --seq-len 64 --batch 2"
    tlarge="--d 64 --layers 2 --heads 2 --seq-len 128 --batch 2"
    nsmall=2 wsmall=1 nlarge=2 wlarge=1
    meta shape_small "dry: vocab 12, d 32, 1 layer, 2 heads, length 64, batch 2, mdlm, 2 timed steps"
    meta shape_large "dry: vocab 12, d 64, 2 layers, 2 heads, length 128, batch 2, mdlm, 2 timed steps"
  else
    small="--preset dna-small --batch 8"
    large="--preset dna-small --d-model 512 --n-layers 8 --n-heads 8 --seq-len 1024 --batch 32"
    tsmall="--d 128 --layers 4 --heads 4 --seq-len 1024 --batch 8"
    tlarge="--d 512 --layers 8 --heads 8 --seq-len 1024 --batch 32"
    nsmall=20 wsmall=3 nlarge=8 wlarge=2
    meta shape_small "dna-small: vocab 12, d 128, 4 layers, 4 heads, length 1024, batch 8, mdlm"
    meta shape_large "vocab 12, d 512, 8 layers, 8 heads, length 1024, batch 32, mdlm"
  fi
  trap 'on_signal 143' TERM
  trap 'on_signal 130' INT
  trap 'on_signal 129' HUP
  echo "gpu-check: $(date -u +%FT%TZ) on $(hostname 2>/dev/null), deadline ${deadline}s, dry $dry, out $out, kernel cache $XDG_CACHE_HOME"
  report
  if [ ! -x "$bin" ]; then
    abort="no bundle"
    meta preflight_error "$bin missing: run 'scripts/gpu-check.sh build' here and carry gpu-bundle"
    echo "gpu-check: PREFLIGHT FAILED: $bin missing: run 'scripts/gpu-check.sh build' here and carry gpu-bundle"
  fi

  # GPU name and driver: nvidia-smi where there is one (the emulator has
  # none), else what the CUDA driver itself says through seqdiff device.
  local smi=''
  if command -v nvidia-smi >/dev/null; then
    smi=$(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  fi
  if [ -n "$smi" ]; then
    meta gpu "${smi%%,*}"
    a=${smi#*, }
    meta driver "${a%%,*}"
    meta gpu_memory "${a#*, }"
    meta gpu_source nvidia-smi
  fi

  # 1. preflight: seconds, one line.
  step preflight preflight 0 30 0 - 0 0 -- "$bin" device --json
  local prc=$?
  if [ -z "$abort" ]; then
    meta device_json "$(grep '^{' "$logs/preflight.out" | tail -1)"
    if [ -z "$smi" ]; then
      a=$(sed -nE 's/.*"devices":\[\{"ordinal":0,"name":"([^"]*)".*/\1/p' "$logs/preflight.out")
      [ -n "$a" ] && meta gpu "$a" && meta gpu_source "seqdiff device"
      a=$(sed -nE 's/.*"driver_cuda_version":([0-9]+).*/\1/p' "$logs/preflight.out")
      [ -n "$a" ] && [ "$a" -gt 0 ] && meta driver "CUDA $((a / 1000)).$((a % 1000 / 10)) (cuDriverGetVersion; no nvidia-smi)"
    fi
    if [ $prc -ne 0 ]; then
      abort="preflight failed"
      meta preflight_error "$(preflight_line)"
      echo "gpu-check: PREFLIGHT FAILED: $(preflight_line)"
    fi
    report
  fi

  # 2. parity tests: compile the kernels into the cache once.
  local trun=${GPU_CHECK_TEST_RUN:-} tskip=${GPU_CHECK_TEST_SKIP:-TestNVRTCCompile} short=()
  if [ "$dry" = 1 ]; then
    tskip=${GPU_CHECK_TEST_SKIP:-TestNVRTCCompile|TestTrainCurveParity}
    short=(-test.short)
  fi
  gotimeout() { # Go's own timeout first, so it names the test that hung
    local t=$(($(left) < $1 * capscale ? $(left) : $1 * capscale))
    echo "-test.timeout=$((t > 20 ? t - 5 : t))s"
  }
  step test-cuda gotest 0 240 30 - 0 0 -- bash -c 'cd "$1" && shift && exec "$@"' _ "$root/compute/cuda" \
    "$bundle/cuda.test" -test.v ${short[@]+"${short[@]}"} -test.run "${trun:-.}" -test.skip "$tskip" "$(gotimeout 240)"
  step test-backend gotest 0 60 10 - 0 0 -- bash -c 'cd "$1" && shift && exec "$@"' _ "$root/compute/backend" \
    "$bundle/backend.test" -test.v ${short[@]+"${short[@]}"} "$(gotimeout 60)"

  # 3. the small shape, ours and PyTorch eager.
  ours seqdiff-small 0 120 20 small 0 $nsmall $wsmall
  # Torch missing or without CUDA (the emulator's machine) makes SKIPs,
  # not failures: the probe itself fails only when it cannot answer.
  if [ ! -f "$bundle/torch_ref.py" ]; then
    torch_skip="torch_ref.py not in gpu-bundle"
  elif ! command -v "$py" >/dev/null; then
    torch_skip="no $py"
  fi
  if [ -z "$torch_skip" ]; then
    step torch-probe probe 0 60 10 - 0 0 -- "$py" -c 'import json
try:
    import torch
except Exception as e:
    print(json.dumps({"torch": None, "error": "%s: %s" % (type(e).__name__, e)}))
    raise SystemExit(0)
ok = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": ok, "device": torch.cuda.get_device_name(0) if ok else None}))'
    local trc=$? pst pj
    pst=$(tail -1 "$state/steps.tsv" | cut -f2,5)
    pj=$(grep '^{' "$logs/torch-probe.out" 2>/dev/null | tail -1)
    if [ -z "$abort" ]; then
      [ -n "$pj" ] && meta torch_json "$pj"
      if [ "$pst" = $'SKIP\tdeadline' ]; then
        torch_skip=deadline
      elif [ $trc -ne 0 ] || [ -z "$pj" ]; then
        torch_skip="torch probe ${pst//$'\t'/ }: $(grep -v '^$' "$logs/torch-probe.err" 2>/dev/null | tail -1 | cut -c1-200)"
      elif [[ $pj == *'"torch": null'* ]]; then
        torch_skip="no torch in $py ($(sed -nE 's/.*"error": "([^"]*)".*/\1/p' <<<"$pj"))"
      elif [[ $pj != *'"cuda_available": true'* ]]; then
        torch_skip="torch without CUDA ($(grep -o '"torch": "[^"]*"' <<<"$pj"))"
      fi
    fi
  fi
  [ -n "$torch_skip" ] && meta torch_skip "$torch_skip" && echo "gpu-check: torch steps SKIP: $torch_skip"
  theirs torch-small-eager 0 150 30 small 0 0 $nsmall $wsmall

  # 4. optional, most informative first.
  ours seqdiff-large 1 120 30 large 0 $nlarge $wlarge
  theirs torch-large-eager 1 150 40 large 0 0 $nlarge $wlarge
  ours seqdiff-small-tf32 1 90 20 small 1 $nsmall $wsmall
  theirs torch-small-eager-tf32 1 120 30 small 1 0 $nsmall $wsmall
  ours seqdiff-large-tf32 1 90 30 large 1 $nlarge $wlarge
  theirs torch-large-eager-tf32 1 120 40 large 1 0 $nlarge $wlarge
  ours profile-large 1 90 30 large 0 2 1 --profile
  if [ "$compile" = 1 ]; then
    theirs torch-small-compile 1 180 90 small 0 1 $nsmall $wsmall
    theirs torch-large-compile 1 180 90 large 0 1 $nlarge $wlarge
  else
    record torch-small-compile SKIP 0 0 "--no-compile / GPU_CHECK_COMPILE=0" bench 1 small 0 1
    record torch-large-compile SKIP 0 0 "--no-compile / GPU_CHECK_COMPILE=0" bench 1 large 0 1
  fi

  # 0: every step that ran passed; 1: one failed; 2: preflight failed;
  # 3: a mandatory step did not fit the deadline.
  local rc=0
  awk -F'\t' '$7 == 0 && $2 == "SKIP" && $5 == "deadline"' "$state/steps.tsv" | grep -q . && rc=3
  cut -f2 "$state/steps.tsv" | grep -qE '^(FAIL|TIMEOUT|KILLED)$' && rc=1
  [ -n "$abort" ] && rc=2
  finish $rc
}

# finish RC: the last rewrite of the JSON, with the table.
finish() {
  meta finished true
  meta exit_code "$1"
  echo "== summary"
  report table
  echo "gpu-check: wrote $json (exit $1, $((SECONDS - t0))s)"
  exit "$1"
}

# on_signal RC: the device tool (or a person) stops the run: end our own
# step's process, record the step as KILLED, leave a valid JSON.
on_signal() {
  # tee may be gone already (a TERM to the process group): a write to the
  # pipe must fail, not kill us before the JSON is written.
  trap '' TERM INT HUP PIPE
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  if [ -n "$running" ]; then
    record "$running" KILLED "$(since "$running_start")" 0 "signal" - 0 - 0 0
    : >"$state/running"
    running=
  fi
  finish "$1"
}

case $cmd in
build) build ;;
run)
  shift
  out=${OUT:-$root/gpu-check-out}
  mkdir -p "$out"
  run "$@" 2>&1 | tee "$out/gpu-check.log" # a pipeline, so the table is printed before the script exits
  exit "${PIPESTATUS[0]}"
  ;;
*)
  echo "usage: scripts/gpu-check.sh build | run [--no-compile] [--dry]" >&2
  exit 2
  ;;
esac
