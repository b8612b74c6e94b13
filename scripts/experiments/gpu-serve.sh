#!/usr/bin/env bash
# Issue #17 on the GPU machine, through the real server (`aivmm serve`) and the real load generator
# (`aivmm bench --server`): dynamic batching off / fixed / adaptive at concurrency 1, 4, 16, 64 on the
# CUDA EP, then one model balanced over GPU.0 (CUDA) + CPU. Models: torchvision exports made there first
#   python3 scripts/fixtures/export_torchvision.py MODELDIR --no-peer --only resnet50,mobilenet_v2
# and the CUDA provider brought in pieces (scripts/experiments/gpu-cuda-parts.sh).
# Run:  source .gpu/enter.sh && bash scripts/experiments/gpu-serve.sh MODELDIR OUTDIR
. "$(dirname "$0")/prelude.sh"
models=${1:?usage: gpu-serve.sh MODELDIR OUTDIR}; out=${2:?usage}
mkdir -p "$out"
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
  bash $X/gpu-cuda-parts.sh /tmp/cudaprov && cuda_setup /tmp/cudaprov
  a devices --json > "$out/devices.json"; echo "devices rc=$?"
  log "batching, ResNet-50 (torchvision export, random weights), CUDA EP, batch-1 requests"
  timeout ${BATCHING_S:-230} node scripts/bench-serve-batching.mjs --device GPU.0 --backend ort-cuda --model "$models/resnet50.onnx" \
    --seconds 1.5 --target 50 --out "$out/batching-cuda-resnet50.json"; echo "rc=$?"
  log "balance, ResNet-50, GPU.0 (CUDA) + CPU, adaptive batching on every placement"
  timeout ${BALANCE_S:-100} node scripts/bench-serve-balance.mjs --devices GPU.0@ort-cuda,CPU --model "$models/resnet50.onnx" \
    --concurrency 64 --seconds 3 --target 100 --batching adaptive --out "$out/balance-cuda-cpu-resnet50.json"; echo "rc=$?"
  date -u
} 2>&1 | tee "$out/gpu-serve.log"
