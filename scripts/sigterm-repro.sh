#!/usr/bin/env bash
# SIGTERM during the built-in MNIST model's first training (docs/reliability.md, "Signals and shared folders"): how many
# of N tries end otherwise than exit 130 (a crash: 134/139). Each try uses a fresh cache, so the model trains; the signal
# comes just after the second epoch event. Pass env settings through, e.g. TF_ENABLE_ONEDNN_OPTS=0.
#   npm run build && bash scripts/sigterm-repro.sh 25
set -u
n=${1:-25}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bad=0
for k in $(seq 1 "$n"); do
  rm -rf "$work/cache" "$work/out"
  AUTOPRUNE_CACHE_DIR="$work/cache" node "$root/bin/autoprune.js" -t 0.5 --budget-steps 100 -o "$work/out" --json > "$work/o" 2> "$work/e" &
  pid=$!
  for _ in $(seq 1 1200); do grep -q '"epoch":2' "$work/o" 2>/dev/null && break; sleep 0.05; done
  sleep "0.0$((RANDOM % 10))"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null
  rc=$?
  if [ "$rc" != 130 ]; then bad=$((bad + 1)); echo "try $k: exit $rc $(grep -v '^20..-' "$work/e" | tail -1)"; fi
done
echo "$bad of $n tries did not exit 130"
