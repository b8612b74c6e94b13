#!/usr/bin/env bash
# Issue #7: PyTorch eager and aivmm (CUDA EP, with and without CUDA graphs) on the same card in one call,
# PyTorch before and after aivmm so drift shows. Needs the CUDA provider in LIBDIR (see gpu-cuda-graph.sh).
#   source .gpu/enter.sh && bash scripts/gpu-vs-torch.sh LIBDIR OUTDIR   → OUTDIR/vs-torch.log
set -uo pipefail
lib=${1:?usage: gpu-vs-torch.sh LIBDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out/r"
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
f16=/tmp/vt-f16io.onnx
B() { local name=$1; shift; echo "== aivmm bench $*"; node bin/aivmm.js bench "$@" --duration 4s --save "$out/r/$name.json"; echo "rc=$?"; }
{
  date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  node bin/aivmm.js setup cuda --from "$lib" >/dev/null; echo "setup rc=$?"
  node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o $f16 --no-latency >/dev/null 2>&1; echo "quantize rc=$?"
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
