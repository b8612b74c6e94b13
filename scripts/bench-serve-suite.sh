#!/usr/bin/env bash
# The server's benchmarks (issues #16, #17, #18) one after another on a quiet machine, each printing its
# own table; every script's output goes to OUTDIR/<name>.log (and .json where the script writes one).
# Nothing else heavy should run meanwhile: each step prints the load average before it starts.
# Usage: npm run build && bash scripts/bench-serve-suite.sh OUTDIR [steps…]
#   steps (default all but soak): overhead health reload batching priorities wrk generation metrics soak
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: bench-serve-suite.sh OUTDIR [steps…]}; shift
mkdir -p "$out"
steps=${*:-overhead health reload batching priorities wrk generation metrics}
step() {
  local name=$1; shift
  echo "== $name: $* (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S))"
  "$@" 2>&1 | tee "$out/$name.log"
  echo "rc=${PIPESTATUS[0]}"
}
for s in $steps; do
  case $s in
    overhead) step overhead node scripts/bench-serve-overhead.mjs --iterations 400 --grpc --json "$out/overhead.json" ;;
    health) step health node scripts/bench-serve-health.mjs --seconds 10 --concurrency 4 ;;
    reload) step reload node scripts/bench-serve-reload.mjs --reloads 10 --concurrency 4 ;;
    batching) step batching node scripts/bench-serve-batching.mjs --seconds 3 --out "$out/batching.json" ;;
    priorities) step priorities node scripts/bench-serve-priorities.mjs --seconds 5 --out "$out/priorities.json" ;;
    wrk) step wrk node scripts/bench-server-vs-wrk.mjs --concurrency 8 --seconds 5 --rounds 3 --out "$out/wrk.json" ;;
    generation) step generation node scripts/bench-serve-generation.mjs --seconds 8 --clients 1,4,8 --max-sequences 1,4 --max-tokens 48 ;;
    metrics) step metrics node scripts/bench-serve-metrics-cost.mjs --seconds 10 --rounds 4 --concurrency 4 ;;
    soak) step soak node scripts/bench-serve-soak.mjs --minutes 10 ;;
    *) echo "unknown step $s"; exit 2 ;;
  esac
done
