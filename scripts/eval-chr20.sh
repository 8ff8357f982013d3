#!/bin/sh
# Score the chr20 runs of scripts/train-chr20.sh on the test split: AR exact
# (all test rows and the first 512), MDLM NELBO bound (K = 4, seed 0, first
# 512 rows; FULL=1 also all rows), and the k-mer baselines (Dirichlet smoothing tuned on valid).
set -eu
BIN=${BIN:-bin/seqdiff}
PREP=${PREP:-/tmp/chr20}
RUNS=${RUNS:-/tmp/runs}
ROWS=${ROWS:-512}
$BIN eval ppl --ckpt $RUNS/chr20-ar --data $PREP --split test --threads 1 --device cpu --json > $RUNS/ar-test.json &
$BIN eval ppl --ckpt $RUNS/chr20-mdlm --data $PREP --split test --draws 4 --seed 0 --max-rows $ROWS --threads 1 --device cpu --json > $RUNS/mdlm-test-$ROWS.json &
wait
$BIN eval ppl --ckpt $RUNS/chr20-ar --data $PREP --split test --max-rows $ROWS --threads 2 --device cpu --json > $RUNS/ar-test-$ROWS.json
if [ "${FULL:-0}" = 1 ]; then
	$BIN eval ppl --ckpt $RUNS/chr20-mdlm --data $PREP --split test --draws 4 --seed 0 --threads 2 --device cpu --json > $RUNS/mdlm-test-full.json
	cat $RUNS/mdlm-test-full.json
fi
[ -f $RUNS/kmer.json ] || $BIN eval kmer --data $PREP --k 0,2,4,6,8,10,12 --json > $RUNS/kmer.json
cat $RUNS/ar-test.json $RUNS/ar-test-$ROWS.json $RUNS/mdlm-test-$ROWS.json $RUNS/kmer.json
