#!/usr/bin/env bash
# Experiment (issue #7, 2026-11-26): do the GPU-only features work on a real card — `devices --probe`, bench
# on every pair with energy from nvidia-smi, `--device auto` for latency and throughput (probes, then the
# cache), an FP16 model with float16 I/O on the GPU, and `setup cuda` offline (must say what to fetch)?
# Answer: yes; figures in docs/performance.md ("GPU checks"). Log: docs/results/gpu-checks-latest.log.
# Run (GPU machine, repo root, after npm run build):  source .gpu/enter.sh && bash scripts/experiments/gpu-checks.sh OUTDIR
. "$(dirname "$0")/prelude.sh"
out=${1:?usage: gpu-checks.sh OUTDIR}
mkdir -p "$out"
a() { echo "\$ aivmm $*"; node bin/aivmm.js "$@"; echo "(exit $?)"; echo; }
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"; nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader
  a devices --probe
  a bench --device all --batch 1,32 --duration 3s
  a bench --device auto --prefer latency --duration 2s
  a bench --device auto --prefer throughput --batch 32 --duration 2s
  a bench --device auto --prefer latency --require kind=gpu,fp16 --duration 2s
  a quantize --mode fp16 --no-keep-io-types -o /tmp/mnv2.fp16io.onnx --device GPU.0 --latency 2s
  a bench /tmp/mnv2.fp16io.onnx --device GPU.0 --batch 1,32 --duration 3s
  a setup cuda
} > "$out/gpu-checks.log" 2>&1
