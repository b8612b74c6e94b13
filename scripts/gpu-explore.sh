#!/usr/bin/env bash
# Issue #7, lever pass 4 (GPU machine, one call): several processes sharing the GPU, the per-run floor of the
# WebGPU EP (a model with almost no work), where one batch-1 run spends its time (onnxruntime's profiler), and
# whether graph capture engages (onnxruntime's INFO log). Also the pull benchmark on a 16-core host (#4).
# Run from the repo root on the GPU machine:  source .gpu/enter.sh && bash scripts/gpu-explore.sh OUTDIR
set -uo pipefail
out=${1:?usage: gpu-explore.sh OUTDIR}
mkdir -p "$out"
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
m=/tmp/explore; mkdir -p $m/prof
log() { echo "== $*"; }
P() { log "processes: $*"; node scripts/gpu-processes.mjs "$@"; echo "rc=$?"; }
{
  nvidia-smi --query-gpu=name,driver_version,power.draw --format=csv,noheader
  node -e "import('./dist/core/hub/embedded.js').then(async (e) => { for (const n of ['mobilenetv2-seeded','tiny-convnet','probe-mlp']) await e.ensureEmbeddedModel(n, '$m'); })"
  node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o $m/f16io.onnx --no-latency >/dev/null 2>&1; echo "quantize rc=$?"
  nv='--opt preferredLayout=NHWC --opt validationMode=disabled'
  P $m/f16io.onnx --batch 32 --procs 1,2,3,4,6 --seconds 4 $nv
  P $m/mobilenetv2-seeded.onnx --batch 32 --procs 1,2,4 --seconds 4 $nv
  P $m/f16io.onnx --batch 64 --procs 1,2,4 --seconds 4 $nv
  log "batch-1 floor: a 16-wide MLP and a tiny convnet"
  P $m/probe-mlp.onnx --batch 1 --procs 1 --seconds 3
  P $m/tiny-convnet.onnx --batch 1 --procs 1 --seconds 3
  P $m/mobilenetv2-seeded.onnx --batch 1 --procs 1,2 --seconds 3 $nv
  P $m/f16io.onnx --batch 1 --procs 1 --seconds 3 $nv
  log "profiles (per run, µs)"
  P $m/mobilenetv2-seeded.onnx --batch 1 --procs 1 --seconds 1 $nv --profile $m/prof
  P $m/f16io.onnx --batch 32 --procs 1 --seconds 1 $nv --profile $m/prof
  P $m/probe-mlp.onnx --batch 1 --procs 1 --seconds 1 --profile $m/prof
  log "graph capture, INFO log"
  node scripts/gpu-processes.mjs $m/mobilenetv2-seeded.onnx --batch 1 --procs 1 --seconds 2 --log 1 --opt ep.webgpuexecutionprovider.enableGraphCapture=1 2>&1 | grep -iE "captur|replay|procs" | sort | uniq -c | head -20
  log "pull benchmark (#4) on this host"
  nproc; node --import tsx scripts/bench-pull.ts --size-mb 256 --capped-mb 64 --rounds 3 --out "$out/bench-pull.json" 2>&1 | tail -20
} 2>&1 | tee "$out/explore.log"
