#!/usr/bin/env bash
# Issue #7: the CUDA EP on the GPU machine, with provider libraries brought in by `aivmm setup cuda --from DIR`
# (a directory holding libonnxruntime_providers_{shared,cuda,tensorrt}.so: the unzipped NuGet package, or any
# other build). Run from the repo root on the GPU machine:
#   source .gpu/enter.sh && bash scripts/gpu-cuda.sh LIBDIR CUDA_LIB_DIR OUTDIR
# CUDA_LIB_DIR: where the CUDA runtime libraries the provider needs live (added to LD_LIBRARY_PATH after the
# first `devices`, which shows what aivmm says without it).
set -uo pipefail
lib=${1:?usage: gpu-cuda.sh LIBDIR CUDA_LIB_DIR OUTDIR}; cudalib=${2:?usage}; out=${3:?usage}
mkdir -p "$out/r"
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
m=/tmp/cudam; mkdir -p $m
log() { echo "== $*"; }
a() { log "aivmm $*"; node bin/aivmm.js "$@"; echo "rc=$?"; }
P() { log "processes: $*"; node scripts/gpu-processes.mjs "$@"; echo "rc=$?"; }
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  a setup cuda --from "$lib"
  a devices
  export LD_LIBRARY_PATH=$cudalib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  a devices --probe --verbose
  node -e "import('./dist/core/hub/embedded.js').then(async (e) => { for (const n of ['mobilenetv2-seeded','probe-mlp']) await e.ensureEmbeddedModel(n, '$m'); })"
  node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o $m/f16io.onnx --no-latency >/dev/null 2>&1; echo "quantize rc=$?"
  log "outputs against the CPU EP (8 random images)"
  node scripts/cuda-compare.mjs $m/mobilenetv2-seeded.onnx cuda 8
  node scripts/cuda-compare.mjs $m/f16io.onnx cuda 8
  a bench --device all --batch 1,32 --duration 4s --save "$out/r/bench-all.json"
  a bench $m/f16io.onnx --device GPU.0 --batch 1,32 --duration 4s --save "$out/r/bench-f16io.json"
  for c in 2 4; do a bench $m/f16io.onnx --device GPU.0 --backend ort-cuda --batch 32 --concurrency $c --duration 4s --save "$out/r/bench-f16io-cuda-c$c.json"; done
  a bench --device GPU.0 --backend ort-cuda --batch 32 --concurrency 4 --duration 4s --save "$out/r/bench-fp32-cuda-c4.json"
  P $m/f16io.onnx --ep cuda --batch 32 --procs 1,2,4 --seconds 4
  P $m/mobilenetv2-seeded.onnx --ep cuda --batch 32 --procs 1,4 --seconds 4
  P $m/probe-mlp.onnx --ep cuda --batch 1 --procs 1 --seconds 2
  a bench --device auto --prefer latency --duration 2s
  a bench $m/f16io.onnx --device auto --prefer throughput --duration 2s
  a bench --device GPU.0 --backend ort-cuda --ep-option enable_cuda_graph=1
} 2>&1 | tee "$out/cuda.log"
tar czf "$out/cuda-results.tgz" -C "$out" r && rm -rf "$out/r"
