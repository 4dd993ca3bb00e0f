#!/bin/sh
# Training speed of mitosis against its PyTorch peer, measured back to back on this machine:
#   sh bench/peers/ratio.sh SPACE [seed|full|SPEC.json] [STEPS] [BATCH]
# Runs `mitosis bench train` (wasm backend) and bench/peers/torch_spec.py (PyTorch, one thread) on the same
# network, twice each in the order mitosis, torch, mitosis, torch, and prints the best img/s of each (both report
# the fastest of five blocks of steps) and their ratio.
# Needs python3 with torch (Debian: apt-get install python3-torch).
set -e
space=${1:?usage: ratio.sh SPACE [seed|full|SPEC.json] [STEPS] [BATCH]}
which=${2:-seed}
# Files given by relative paths: absolute, since the spec is written from the repository root.
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[ -f "$space" ] && space=$(absolute "$space")
[ -f "$which" ] && which=$(absolute "$which")
steps=${3:-60}
batch=${4:-64}
root=$(cd "$(dirname "$0")/../.." && pwd)
# The network both sides train, as mitosis builds it (seed, full network — cell spaces compile theirs from the
# cell — or a spec file given as the second argument), written to a spec file for the PyTorch peer.
file=$(mktemp --suffix=.json)
trap 'rm -f "$file"' EXIT
(cd "$root" && node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
import { fullNetwork, loadSearchSpace } from "@mitosis/growth";
const [space, which, out] = process.argv.slice(1);
const spec = which === "seed" ? loadSearchSpace(space).space.seed
  : which === "full" ? fullNetwork(loadSearchSpace(space).space)
  : JSON.parse(readFileSync(which, "utf8"));
writeFileSync(out, JSON.stringify(spec));
' "$space" "$which" "$file")
py=${PYTHON:-python3}
best_m=0
best_t=0
for round in 1 2; do
  m=$(node "$root/packages/cli/dist/main.js" --json bench train --space "$space" --network "$which" --steps "$steps" --batch "$batch" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).results[0].bestImagesPerSecond.toFixed(0)))')
  t=$("$py" "$root/bench/peers/torch_spec.py" "$file" seed 1 "$steps" "$batch" | sed -n 's/.*best block \([0-9]*\) img\/s$/\1/p')
  echo "round $round: mitosis $m img/s, torch $t img/s"
  [ "$m" -gt "$best_m" ] && best_m=$m
  [ "$t" -gt "$best_t" ] && best_t=$t
done
echo "$space $which: mitosis $best_m img/s, torch (1 thread) $best_t img/s, ratio $(node -e "console.log(($best_m/$best_t).toFixed(2))")"
