#!/usr/bin/env bash
# Experiment (issue #7, 2026-11-26): can batch 1 get under 1.0 ms with CUDA graphs and the other CUDA EP
# provider options, reached through onnxruntime's C API (src/core/backends/ort-capi.ts)? Outputs are checked
# against the CPU EP first. Answer: yes, 0.43–0.50 ms with enable_cuda_graph=1; the other options don't help.
# Logs: docs/results/2026-11-26-h200-cuda-graph.log (+ -results.tgz), …-cuda-graph-levers.log (LEVERS=1),
# …-cuda-graph-final.log (the committed code on a fresh machine).
# Run (GPU machine, provider libraries in LIBDIR):  source .gpu/enter.sh && bash scripts/experiments/gpu-cuda-graph.sh LIBDIR OUTDIR
# LEVERS=1 adds the other provider options, each on its own (cudnn_conv_algo_search, prefer_nhwc, use_tf32).
. "$(dirname "$0")/prelude.sh"
lib=${1:?usage: gpu-cuda-graph.sh LIBDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out/r"
m=/tmp/cgm; mkdir -p $m
C() { log "compare: $*"; node $X/cuda-graph-compare.mjs "$@"; echo "rc=$?"; }
B() { local name=$1; shift; a bench "$@" --duration 4s --save "$out/r/$name.json"; }
{
  date -u; command -v gdb || echo "no gdb"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  a setup cuda --from "$lib" >/dev/null
  a devices
  embedded $m mobilenetv2-seeded probe-mlp
  fp16io $m/f16io.onnx
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
