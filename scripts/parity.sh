#!/usr/bin/env bash
# seqdiff vs PyTorch parity: logits (bidirectional and causal) and losses
# (mdlm, ar) of a perturbed dna-small checkpoint; see scripts/parity.py.
# Needs Debian's /usr/bin/python3 with python3-torch and python3-numpy.
# SEQDIFF_DEVICE=cuda checks seqdiff's CUDA backend against the same reference.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref=${TORCH_REF:-$root/../shared/reference/torch_ref.py}
py=${PYTHON:-/usr/bin/python3}
[ -f "$ref" ] || { echo "parity: $ref not found (set TORCH_REF)" >&2; exit 2; }
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
make -C "$root" build >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/seqdiff-parity.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$py" "$root/scripts/parity.py" "$root/bin/seqdiff" "$ref" "$work"
