#!/bin/bash
# Issue 15: speed and quality of every MDLM sampler on a chr20 dna-small checkpoint.
cd /work/main
B=bin/seqdiff; M=/tmp/runs15/mdlm; A=/tmp/runs15/ar; D=/tmp/chr20
out=/tmp/bench15; mkdir -p $out
export OPENBLAS_CORETYPE=Haswell
common="--mdlm $M --ar $A --data $D --n 32 --len 256 --threads 2 --json"
for seed in 1 2; do
  $B bench sample $common --seed $seed --samplers ddpm --steps 8,32,128 > $out/ddpm-$seed.jsonl
  $B bench sample $common --seed $seed --samplers ddpm_cache --steps 10000 > $out/exact-$seed.jsonl
  $B bench sample $common --seed $seed --samplers first_hitting --tokens-per-step 1,2,8,32 > $out/fh-$seed.jsonl
  $B bench sample $common --seed $seed --samplers topk_confidence --steps 8,32,128 > $out/topk-$seed.jsonl
  $B bench sample $common --seed $seed --samplers topk_confidence --steps 8,32,128 --reveal cosine > $out/topkcos-$seed.jsonl
  $B bench sample $common --seed $seed --samplers ar > $out/ar-$seed.jsonl
done
echo done > $out/done
