#!/usr/bin/env bash
# Experiment (issue #7, 2026-11-26): onnxruntime-node passes the CUDA EP no provider option but deviceId — do
# the `ep.cuda.*` session configuration entries (CUDA graphs, NHWC, cuDNN search) reach it instead? Each is
# checked against the CPU EP's outputs. Answer: no capture or replay; differences are run-to-run spread.
# Log: docs/results/2026-11-26-h200-cuda-config.log.
# Run (GPU machine, provider libraries in LIBDIR):  source .gpu/enter.sh && bash scripts/experiments/gpu-cuda-config.sh LIBDIR OUTDIR
. "$(dirname "$0")/prelude.sh"
lib=${1:?usage: gpu-cuda-config.sh LIBDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out"
m=/tmp/cudam; mkdir -p $m
{
  cuda_setup "$lib"
  embedded $m mobilenetv2-seeded
  fp16io $m/f16io.onnx
  for model in mobilenetv2-seeded f16io; do
    for cfg in "" ep.cuda.enable_cuda_graph=1 ep.cuda.prefer_nhwc_layout=1 ep.cuda.cudnn_conv_algo_search=HEURISTIC "ep.cuda.enable_cuda_graph=1 ep.cuda.prefer_nhwc_layout=1"; do
      log "$model ${cfg:-defaults}"
      node $X/cuda-compare.mjs $m/$model.onnx cuda 1 $cfg
      opts=(); for c in $cfg; do opts+=(--opt "$c"); done
      node $X/gpu-processes.mjs $m/$model.onnx --ep cuda --batch 1 --procs 1 --seconds 3 "${opts[@]}"
    done
  done
  log "INFO log with ep.cuda.enable_cuda_graph=1"
  node $X/gpu-processes.mjs $m/mobilenetv2-seeded.onnx --ep cuda --batch 1 --procs 1 --seconds 1 --log 1 --opt ep.cuda.enable_cuda_graph=1 2>&1 | grep -iE "graph|captur|replay" | cut -c1-300 | sort | uniq -c | sort -rn | head -12
  log "aivmm bench with the best entries"
  node bin/aivmm.js bench $m/f16io.onnx --device GPU.0 --backend ort-cuda --batch 1 --duration 4s --ep-option ep.cuda.enable_cuda_graph=1 --save "$out/bench-cuda-graph.json"; echo "rc=$?"
  node bin/aivmm.js bench --device GPU.0 --backend ort-cuda --batch 1 --duration 4s --ep-option ep.cuda.enable_cuda_graph=1; echo "rc=$?"
} 2>&1 | tee "$out/cuda-config.log"
