#!/usr/bin/env bash
# Experiment (issue #7, 2026-11-26): does the CUDA EP work under onnxruntime-node with provider libraries
# brought in by `aivmm setup cuda --from LIBDIR` (the CUDA 13 build), do its outputs match the CPU EP, and
# what does it give at batch 1 and 32, with --concurrency and with several processes? Answer: yes; batch 32
# passes PyTorch eager, batch 1 ~1.1 ms. Logs: docs/results/2026-11-26-h200-cuda.log (+ -results.tgz),
# …-cuda-first.log, …-cuda-final.log.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-cuda.sh LIBDIR CUDA_LIB_DIR OUTDIR
# CUDA_LIB_DIR: where the CUDA runtime libraries the provider needs live (added to LD_LIBRARY_PATH after the
# first `devices`, which shows what aivmm says without it).
. "$(dirname "$0")/prelude.sh"
lib=${1:?usage: gpu-cuda.sh LIBDIR CUDA_LIB_DIR OUTDIR}; cudalib=${2:?usage}; out=${3:?usage}
mkdir -p "$out/r"
m=/tmp/cudam; mkdir -p $m
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  a setup cuda --from "$lib"
  a devices
  export LD_LIBRARY_PATH=$cudalib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  a devices --probe --verbose
  embedded $m mobilenetv2-seeded probe-mlp
  fp16io $m/f16io.onnx
  log "outputs against the CPU EP (8 random images)"
  node $X/cuda-compare.mjs $m/mobilenetv2-seeded.onnx cuda 8
  node $X/cuda-compare.mjs $m/f16io.onnx cuda 8
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
