#!/usr/bin/env bash
# Experiment (issue #7, 2026-11-26): does `aivmm run` give the CPU's answers on the GPU (classification top-3,
# KV-cache text generation) through WebGPU, or through BACKEND (e.g. ort-cuda after `aivmm setup cuda`)?
# Answer: yes, same classes and tokens. Logs: docs/results/gpu-run-latest.log, docs/results/gpu-run-cuda-latest.log.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-run.sh OUTDIR [BACKEND]  → OUTDIR/gpu-run.log
. "$(dirname "$0")/prelude.sh"
out=${1:?usage: gpu-run.sh OUTDIR [BACKEND]}
backend=(); [ -n "${2:-}" ] && backend=(--backend "$2")
mkdir -p "$out"
a() { echo "\$ aivmm $*"; node bin/aivmm.js "$@"; echo "(exit $?)"; echo; }
{
  node -e "const s=require('sharp');const b=Buffer.alloc(320*240*3);for(let i=0;i<b.length;i++)b[i]=(i*7)%256;s(b,{raw:{width:320,height:240,channels:3}}).png().toFile('/tmp/img.png')"
  a run --input /tmp/img.png --device GPU.0 "${backend[@]}" --top-k 3
  a run --input /tmp/img.png --device CPU --top-k 3
  a run --input /tmp/img.png --device auto --prefer latency --top-k 1
  a run test/fixtures/tiny-llama/model.onnx --input "hello world" --max-tokens 12 --device GPU.0 "${backend[@]}"
  a run test/fixtures/tiny-llama/model.onnx --input "hello world" --max-tokens 12 --device CPU
} > "$out/gpu-run.log" 2>&1
