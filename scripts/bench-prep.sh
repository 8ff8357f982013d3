#!/usr/bin/env bash
# Prep speed against `gzip -dc` of the same file on the same machine, in the
# same run: the target is prep/gzip <= 1.0 (prep decodes the BGZF on all
# CPUs, tokenizes, hashes the input and writes the shards).
#
#   scripts/bench-prep.sh [FASTA]        (default ../shared/data/genome/grch37_chr20.fa.gz)
#   RUNS=9 scripts/bench-prep.sh         (default 5 timed runs of each, after one warm-up)
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-../shared/data/genome/grch37_chr20.fa.gz}
runs=${RUNS:-5}
if [ ! -f "$file" ]; then
	echo "bench-prep: $file absent (it comes with ../shared/data)" >&2
	exit 1
fi
make -s build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# seconds CMD...: wall time of one run, from bash's microsecond clock.
seconds() {
	local t0=$EPOCHREALTIME
	"$@" >/dev/null
	local t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}
gz() { gzip -dc "$file"; }
prep() { bin/seqdiff prep --fasta "$file" --out "$tmp/prep" --quiet --force; }

gz >/dev/null # warm the page cache
prep
g=() p=()
for ((i = 0; i < runs; i++)); do # interleaved, so both see the same load
	g+=("$(seconds gz)")
	p+=("$(seconds prep)")
done
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "median %.3f s  min %.3f s", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1] }'; }
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "file:     $file ($(stat -c %s "$file") bytes)"
echo "machine:  $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs:     $runs each, interleaved, after one warm-up"
echo "gzip -dc: $(stats "${g[@]}")"
echo "prep:     $(stats "${p[@]}")"
awk -v p="$(med "${p[@]}")" -v g="$(med "${g[@]}")" 'BEGIN { r = p / g; printf "ratio prep/gzip (medians): %.2f (target <= 1.0: %s)\n", r, (r <= 1.0 ? "met" : "NOT met") }'
grep -o '"windows": [0-9]*' "$tmp/prep/manifest.json" | awk '{ n += $2 } END { print "windows:  " n }'
