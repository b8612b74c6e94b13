#!/usr/bin/env bash
# The GPU-only checks of issue #7, in one call on the GPU machine:
#   source .gpu/enter.sh && bash scripts/gpu-checks.sh OUTDIR
# devices (probed), bench on every pair with energy (nvidia-smi), --device auto for latency and for
# throughput (probes, then the cache), an FP16 model with float16 I/O on the GPU, and `setup cuda`
# (offline there: it must say what to fetch). Writes OUTDIR/gpu-checks.log; its latest copy lives in
# docs/results/gpu-checks-latest.log.
set -uo pipefail
out=${1:?usage: gpu-checks.sh OUTDIR}
mkdir -p "$out"
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
a() { echo "\$ aivmm $*"; node bin/aivmm.js "$@"; echo "(exit $?)"; echo; }
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"; nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader
  a devices --probe
  a bench --device all --batch 1,32 --duration 3s
  a bench --device auto --prefer latency --duration 2s
  a bench --device auto --prefer throughput --batch 32 --duration 2s
  a bench --device auto --prefer latency --require kind=gpu,fp16 --duration 2s
  a quantize --mode fp16 --no-keep-io-types -o /tmp/mnv2.fp16io.onnx --device GPU.0 --latency 2s
  a bench /tmp/mnv2.fp16io.onnx --device GPU.0 --batch 1,32 --duration 3s
  a setup cuda
} > "$out/gpu-checks.log" 2>&1
