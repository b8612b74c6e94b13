#!/usr/bin/env bash
# Issue #7, batch-1 latency on the CUDA EP: onnxruntime-node passes the CUDA EP no provider option but
# deviceId, so try the `ep.cuda.*` session configuration entries (CUDA graphs, NHWC, cuDNN search), each
# checked against the CPU EP's outputs. Run on the GPU machine after the provider libraries are at LIBDIR:
#   source .gpu/enter.sh && bash scripts/gpu-cuda-config.sh LIBDIR OUTDIR
set -uo pipefail
lib=${1:?usage: gpu-cuda-config.sh LIBDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out"
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
m=/tmp/cudam; mkdir -p $m
log() { echo "== $*"; }
{
  node bin/aivmm.js setup cuda --from "$lib" >/dev/null; echo "setup rc=$?"
  node -e "import('./dist/core/hub/embedded.js').then(async (e) => { await e.ensureEmbeddedModel('mobilenetv2-seeded', '$m'); })"
  node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o $m/f16io.onnx --no-latency >/dev/null 2>&1; echo "quantize rc=$?"
  for model in mobilenetv2-seeded f16io; do
    for cfg in "" ep.cuda.enable_cuda_graph=1 ep.cuda.prefer_nhwc_layout=1 ep.cuda.cudnn_conv_algo_search=HEURISTIC "ep.cuda.enable_cuda_graph=1 ep.cuda.prefer_nhwc_layout=1"; do
      log "$model ${cfg:-defaults}"
      node scripts/cuda-compare.mjs $m/$model.onnx cuda 1 $cfg
      opts=(); for c in $cfg; do opts+=(--opt "$c"); done
      node scripts/gpu-processes.mjs $m/$model.onnx --ep cuda --batch 1 --procs 1 --seconds 3 "${opts[@]}"
    done
  done
  log "INFO log with ep.cuda.enable_cuda_graph=1"
  node scripts/gpu-processes.mjs $m/mobilenetv2-seeded.onnx --ep cuda --batch 1 --procs 1 --seconds 1 --log 1 --opt ep.cuda.enable_cuda_graph=1 2>&1 | grep -iE "graph|captur|replay" | cut -c1-300 | sort | uniq -c | sort -rn | head -12
  log "aivmm bench with the best entries"
  node bin/aivmm.js bench $m/f16io.onnx --device GPU.0 --backend ort-cuda --batch 1 --duration 4s --ep-option ep.cuda.enable_cuda_graph=1 --save "$out/bench-cuda-graph.json"; echo "rc=$?"
  node bin/aivmm.js bench --device GPU.0 --backend ort-cuda --batch 1 --duration 4s --ep-option ep.cuda.enable_cuda_graph=1; echo "rc=$?"
} 2>&1 | tee "$out/cuda-config.log"
