#!/usr/bin/env bash
# Experiment (issue #7, WebGPU lever pass 2, 2026-11-26): what do FP16 models made by `aivmm quantize`, FP16
# I/O, EP options together, graph capture and the INT8 QDQ model give on the GPU, against the FP32 baseline in
# the same call? Answer: only FP16 with float16 I/O pays (1.73× at batch 32); INT8 QDQ runs on the CPU.
# Log and --json documents: docs/results/2026-11-26-h200-levers2/.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-levers.sh OUTDIR  → OUTDIR/levers.log, OUTDIR/r/
. "$(dirname "$0")/prelude.sh"
out=${1:?usage: gpu-levers.sh OUTDIR}
mkdir -p "$out/r"
a() { node bin/aivmm.js "$@"; }
log() { echo "== $*" | tee -a "$out/levers.log"; }
{
  log "devices"; a devices --probe
  m=/tmp/mnv2
  mkdir -p $m
  log "quantize fp16 (float32 I/O), latency on GPU.0 ort-webgpu"
  a quantize --mode fp16 -o $m/fp16.onnx --device GPU.0 --backend ort-webgpu --json > "$out/r/quantize-fp16.json"; echo rc=$?
  log "quantize fp16 (float16 I/O)"
  a quantize --mode fp16 --no-keep-io-types -o $m/fp16io.onnx --device GPU.0 --backend ort-webgpu --json > "$out/r/quantize-fp16io.json"; echo rc=$?
  log "quantize static int8 QDQ, latency on GPU.0 ort-webgpu"
  a quantize --mode static -o $m/int8.onnx --device GPU.0 --backend ort-webgpu --json > "$out/r/quantize-int8.json"; echo rc=$?
  b() { local name=$1; shift; log "bench $name: $*"; a bench "$@" --device GPU.0 --backend ort-webgpu --batch 1,32 --duration 4s --save "$out/r/bench-$name.json"; echo rc=$?; }
  b fp32 mobilenetv2-seeded
  b fp16 $m/fp16.onnx
  b fp16io $m/fp16io.onnx
  b fp16-nhwc-novalid $m/fp16.onnx --ep-option preferredLayout=NHWC --ep-option validationMode=disabled
  b fp32-nhwc-novalid mobilenetv2-seeded --ep-option preferredLayout=NHWC --ep-option validationMode=disabled
  b fp32-graphcapture mobilenetv2-seeded --ep-option enableGraphCapture=1
  b int8 $m/int8.onnx
  log "bench CPU fp32 and int8 (16 cores)"
  a bench mobilenetv2-seeded --device CPU --batch 1,32 --duration 4s --save "$out/r/bench-cpu-fp32.json"; echo rc=$?
  a bench $m/int8.onnx --device CPU --batch 1,32 --duration 4s --save "$out/r/bench-cpu-int8.json"; echo rc=$?
} 2>&1 | tee -a "$out/levers.log" >/dev/null
tar czf "$out/levers.tgz" -C "$out" r && rm -rf "$out/r"
