#!/usr/bin/env bash
# Experiment (issue #7, 2026-11-26): aivmm (CUDA EP, with and without CUDA graphs, FP32 and FP16) against
# PyTorch eager (scripts/reference/torch_mobilenetv2.py) on the same card in one call, PyTorch before and after
# so drift shows. Answer: batch 1 425–497 µs vs 2.7 ms; batch 32 15,247 vs 10,664–11,474 img/s.
# Log: docs/results/2026-11-26-h200-vs-torch.log (+ -results.tgz).
# Run (GPU machine, CUDA provider in LIBDIR, see gpu-cuda-graph.sh):  source .gpu/enter.sh && bash scripts/experiments/gpu-vs-torch.sh LIBDIR OUTDIR
. "$(dirname "$0")/prelude.sh"
lib=${1:?usage: gpu-vs-torch.sh LIBDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out/r"
f16=/tmp/vt-f16io.onnx
B() { local name=$1; shift; echo "== aivmm bench $*"; node bin/aivmm.js bench "$@" --duration 4s --save "$out/r/$name.json"; echo "rc=$?"; }
{
  date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  cuda_setup "$lib"
  fp16io $f16
  echo "== PyTorch (before)"; python3 scripts/reference/torch_mobilenetv2.py 4
  B f32-plain-b1-32 --device GPU.0 --backend ort-cuda --batch 1,32
  B f32-graph-b1-32 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option enable_cuda_graph=1
  B f32-plain-c8 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 8
  B f32-graph-c8 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 8 --ep-option enable_cuda_graph=1
  B f16-graph-b1-32 $f16 --device GPU.0 --backend ort-cuda --batch 1,32 --ep-option enable_cuda_graph=1
  B f16-plain-c4 $f16 --device GPU.0 --backend ort-cuda --batch 32 --concurrency 4
  echo "== PyTorch (after)"; python3 scripts/reference/torch_mobilenetv2.py 4
} 2>&1 | tee "$out/vs-torch.log"
tar czf "$out/vs-torch-results.tgz" -C "$out" r && rm -rf "$out/r"
