#!/usr/bin/env bash
# Experiment (issue #7, lever pass 4, 2026-11-26): do several processes sharing the GPU raise WebGPU
# throughput; what is the WebGPU EP's per-run floor (a model with almost no work); where does one batch-1 run
# spend its time (onnxruntime's profiler); does graph capture engage (INFO log)? Also the pull benchmark on a
# 16-core host (#4). Answer: processes 1.9×; floor ~1 ms (copies + fence); no capture.
# Log: docs/results/2026-11-26-h200-explore.log.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-explore.sh OUTDIR
. "$(dirname "$0")/prelude.sh"
out=${1:?usage: gpu-explore.sh OUTDIR}
mkdir -p "$out"
m=/tmp/explore; mkdir -p $m/prof
{
  nvidia-smi --query-gpu=name,driver_version,power.draw --format=csv,noheader
  embedded $m mobilenetv2-seeded tiny-convnet probe-mlp
  fp16io $m/f16io.onnx
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
  node $X/gpu-processes.mjs $m/mobilenetv2-seeded.onnx --batch 1 --procs 1 --seconds 2 --log 1 --opt ep.webgpuexecutionprovider.enableGraphCapture=1 2>&1 | grep -iE "captur|replay|procs" | sort | uniq -c | head -20
  log "pull benchmark (#4) on this host"
  nproc; node --import tsx scripts/bench-pull.ts --size-mb 256 --capped-mb 64 --rounds 3 --out "$out/bench-pull.json" 2>&1 | tail -20
} 2>&1 | tee "$out/explore.log"
