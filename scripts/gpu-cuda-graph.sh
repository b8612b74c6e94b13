#!/usr/bin/env bash
# Issue #7, batch 1 ≤ 1.0 ms: CUDA graphs and the other CUDA EP provider options, reached through onnxruntime's
# C API (src/core/backends/ort-capi.ts; onnxruntime-node's binding passes the CUDA EP nothing but deviceId).
# Run from the repo root on the GPU machine, after the provider libraries are in LIBDIR:
#   source .gpu/enter.sh && bash scripts/gpu-cuda-graph.sh LIBDIR OUTDIR   → OUTDIR/cuda-graph.log
# LEVERS=1 adds the other provider options, each on its own (cudnn_conv_algo_search, prefer_nhwc, use_tf32).
set -uo pipefail
lib=${1:?usage: gpu-cuda-graph.sh LIBDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out/r"
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
m=/tmp/cgm; mkdir -p $m
log() { echo "== $*"; }
a() { log "aivmm $*"; node bin/aivmm.js "$@"; echo "rc=$?"; }
C() { log "compare: $*"; node scripts/cuda-graph-compare.mjs "$@"; echo "rc=$?"; }
B() { local name=$1; shift; a bench "$@" --duration 4s --save "$out/r/$name.json"; }
{
  date -u; command -v gdb || echo "no gdb"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  a setup cuda --from "$lib" >/dev/null
  a devices
  node -e "import('./dist/core/hub/embedded.js').then(async (e) => { for (const n of ['mobilenetv2-seeded','probe-mlp']) await e.ensureEmbeddedModel(n, '$m'); })"
  node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o $m/f16io.onnx --no-latency >/dev/null 2>&1; echo "quantize rc=$?"
  f32=$m/mobilenetv2-seeded.onnx; f16=$m/f16io.onnx
  log "outputs against the CPU EP; batches in this order on one session; then a 3 s loop per batch"
  C $f32 cuda 1,32,1
  C $f32 cuda 1,32,1 enable_cuda_graph=1
  C $f16 cuda 1,32,1
  C $f16 cuda 1,32,1 enable_cuda_graph=1
  C $m/probe-mlp.onnx cuda 1 enable_cuda_graph=1
  log "bench: without and with CUDA graphs, side by side (FP16 model unless named)"
  B f16-plain $f16 --device GPU.0 --backend ort-cuda --batch 1,32
  B f16-graph $f16 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option enable_cuda_graph=1
  B f32-plain --device GPU.0 --backend ort-cuda --batch 1,32
  B f32-graph --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option enable_cuda_graph=1
  B f16-plain-c4 $f16 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 4
  B f16-graph-c4 $f16 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 4 --ep-option enable_cuda_graph=1
  B f32-plain-c8 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 8
  B f32-graph-c8 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 8 --ep-option enable_cuda_graph=1
  if [ "${LEVERS:-}" = 1 ]; then
    B f16-exhaustive $f16 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option cudnn_conv_algo_search=EXHAUSTIVE
    B f16-graph-exhaustive $f16 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option enable_cuda_graph=1 --ep-option cudnn_conv_algo_search=EXHAUSTIVE
    B f16-nhwc $f16 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option prefer_nhwc=1
    B f32-notf32 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option use_tf32=0
  fi
  a bench --device GPU.0 --backend ort-cuda --ep-option no_such_option=1 --duration 1s
  log "TensorRT libraries on this machine?"
  ls /usr/lib/x86_64-linux-gnu/libnvinfer* /usr/local/lib/python3*/dist-packages/tensorrt* 2>&1 | head -5
} 2>&1 | tee "$out/cuda-graph.log"
tar czf "$out/cuda-graph-results.tgz" -C "$out" r && rm -rf "$out/r"
