#!/bin/sh
# Train AR and MDLM (dna-small, same token budget) on GRCh37 chr20 side by
# side, one thread each, then score both on the test split and the k-mer
# baselines. Rerun with RESUME=1 to continue runs that were cut short.
set -eu
BIN=${BIN:-bin/seqdiff}
PREP=${PREP:-/tmp/chr20}
[ -f "$PREP/manifest.json" ] || $BIN prep --fasta ../shared/data/genome/grch37_chr20.fa.gz --out "$PREP" --seq-len 1024
mkdir -p /tmp/runs
R=""
[ "${RESUME:-0}" = 1 ] && R="--resume"
for m in ar mdlm; do
	$BIN pretrain --config configs/chr20-$m.yaml --data "$PREP" $R 2> /tmp/runs/chr20-$m.log &
done
wait
