#!/usr/bin/env bash
# The kill-and-resume harness at full size: SEQDIFF_KILLS SIGKILLs per
# pre-training mode (mlm, mdlm, ar) and for the study, then the graceful
# stop, lock, full-disk and non-finite tests. `make test` runs the same
# tests with 3 kills each. Prints the counts of kills survived.
#
#   scripts/kill-resume.sh               (10 kills per mode and for the study)
#   KILLS=50 scripts/kill-resume.sh
#   SEQDIFF_KILL_SEED=123 scripts/kill-resume.sh   (the same kill choices again)
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${KILLS:-10}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
SEQDIFF_KILLS=$kills CGO_ENABLED=0 GOEXPERIMENT=simd go test -count=1 -timeout 60m -v \
	-run '^(TestKillResumePretrain|TestKillResumeStudy|TestPretrainGracefulStop|TestPretrainLockTwoRuns|TestPretrainDiskFull|TestPretrainNonFinite)$' \
	./cmd/seqdiff >"$log" 2>&1 && rc=0 || rc=$?
grep -E -- '--- (PASS|FAIL|SKIP)|kills survived|kill schedule seed|prep: seqdiff|checkpoint: seqdiff|^(ok|FAIL)' "$log" || true
if [ "$rc" -ne 0 ]; then
	echo "kill-resume: failed; full log:" >&2
	cat "$log" >&2
fi
exit "$rc"
