#!/bin/bash
cd /work/main
while [ ! -f /tmp/bench15/done ]; do sleep 10; done
B=bin/seqdiff; M=/tmp/runs15/mdlm; A=/tmp/runs15/ar; D=/tmp/chr20; out=/tmp/bench15
export OPENBLAS_CORETYPE=Haswell
common="--mdlm $M --ar $A --data $D --n 32 --len 256 --threads 2 --json"
for seed in 1 2; do
  $B bench sample $common --seed $seed --samplers topk_confidence --steps 8,32,128 --confidence-noise 4.5 > $out/topknoise-$seed.jsonl
  $B bench sample $common --seed $seed --samplers topk_confidence --steps 8,32,128 --reveal cosine --confidence-noise 4.5 > $out/topkcosnoise-$seed.jsonl
done
echo done > $out/done2
