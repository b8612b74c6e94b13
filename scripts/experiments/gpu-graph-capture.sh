#!/usr/bin/env bash
# Experiment (issue #7, lever pass 3, 2026-11-26): does the WebGPU EP's graph capture (session config entry
# ep.webgpuexecutionprovider.enableGraphCapture) or a bigger batch help MobileNetV2 on the GPU? Answer: no
# (accepted, nothing measurable; throughput peaks at batch 32). Log: docs/results/2026-11-26-h200-graph-capture.log.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-graph-capture.sh > LOG
. "$(dirname "$0")/prelude.sh"
a() { echo "\$ aivmm $*"; node bin/aivmm.js "$@" 2>&1 | grep -E "GPU.0  │|error|warning|fallback"; echo "(exit ${PIPESTATUS[0]})"; }
fp16io /tmp/f.onnx
a bench --device GPU.0 --batch 1,32 --duration 3s --ep-option ep.webgpuexecutionprovider.enableGraphCapture=1
a bench /tmp/f.onnx --device GPU.0 --batch 1,32 --duration 3s --ep-option ep.webgpuexecutionprovider.enableGraphCapture=1
a bench /tmp/f.onnx --device GPU.0 --batch 1,32,64,128 --duration 3s --ep-option preferredLayout=NHWC --ep-option validationMode=disabled
a bench --device GPU.0 --batch 1,32 --duration 3s
