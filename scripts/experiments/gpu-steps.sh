#!/usr/bin/env bash
# The GPU session of 2026-12-02 (issues #17 and #21), in steps, one device call each: the call carries at most
# 64 MiB, and Node.js + node_modules + the CUDA provider (164 MB as xz) are 215 MB, so they come in four
# calls (.cpa: node.xz + enter.sh; .cpdist: dist without *.d.ts/*.map; .cpb: node_modules repacked without
# other platforms' binaries, *.d.ts, *.map; .cp1–.cp4: the xz of libonnxruntime_providers_cuda.so in parts,
# the shared provider and sums.txt, as in gpu-cuda-parts.sh), while the machine stays warm between them.
#   step 1: models (torchvision/transformers exports, random weights) into /tmp/models; parts to /tmp/cp
#   step 2: node + node_modules; the gate's validity run starts in the background (setsid) for GATE_S s
#   step 3: a part
#   step 4: the provider assembled and set up; the gate run awaited; CUDA shape-switch experiment
#   step 5: batching off / fixed / adaptive / fixed with one session, ResNet-50, CUDA EP
#   step 6: balancing GPU.0 + CPU
#   step 7: the server's cost per 602 KB request (bench-serve-large-tensors.mjs), this build against the one in
#           .cpbase (an older commit's bin/, dist/ and package.json, carried with step 4), side by side
#   step 8: batching off / fixed / adaptive on the older build too (LANE, MODES, CONC as step 5)
# Usage (GPU machine, repo root):  bash scripts/experiments/gpu-steps.sh STEP OUTDIR
set -uo pipefail
step=${1:?usage: gpu-steps.sh STEP OUTDIR}; out=${2:?usage}
mkdir -p "$out" /tmp/cp .gpu
for d in .cp1 .cp2 .cp3 .cp4; do [ -d $d ] && cp $d/* /tmp/cp/ 2>/dev/null; done
[ -d .cpa ] && cp .cpa/* .gpu/
[ -d .cpb ] && cp .cpb/* .gpu/
if [ -d .cpdist ]; then rm -rf /tmp/dist && cp -r .cpdist /tmp/dist; fi
if [ -d .cpbase ]; then rm -rf /tmp/base && cp -r .cpbase /tmp/base && ln -s "$PWD/node_modules" /tmp/base/node_modules; fi
[ -d /tmp/dist ] && { rm -rf dist; cp -r /tmp/dist dist; }
[ -f /tmp/gpu/node_modules.tar.xz ] || { mkdir -p /tmp/gpu; cp .gpu/* /tmp/gpu/ 2>/dev/null; }
ls /tmp/cp
case $step in
1)
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; uptime
  python3 scripts/fixtures/export_torchvision.py /tmp/models --no-peer --only ${ONLY:-resnet50,mobilenet_v2,squeezenet1_1,resnet18,bert_small} > "$out/exports.json"; echo "export rc=$?"
  ls -la /tmp/models; date -u ;;
2)
  cp /tmp/gpu/* .gpu/ 2>/dev/null; source .gpu/enter.sh
  node bin/aivmm.js --version; mkdir -p /tmp/gate
  setsid nohup node scripts/bench-gate-validity.mjs --models /tmp/models --archs mobilenet_v2,squeezenet1_1,resnet18,resnet50,bert_small \
    --modes against --twins 8 --runs 100 --threads 2 --parallel 8 --duration 4s --warmup 500ms --calibrate 3s \
    --time-budget "${GATE_S:-420}s" --out /tmp/gate/gpu-gate-sequential.json > /tmp/gate/gpu-gate-sequential.log 2>&1 < /dev/null &
  sleep 20; tail -5 /tmp/gate/gpu-gate-sequential.log; uptime ;;
3)
  tail -3 /tmp/gate/gpu-gate-sequential.log; uptime ;;
4)
  cp /tmp/gpu/* .gpu/ 2>/dev/null; source .gpu/enter.sh
  mkdir -p /tmp/cudaprov
  cat /tmp/cp/p1 /tmp/cp/p2 /tmp/cp/p3 /tmp/cp/p4 | xz -dc -T0 > /tmp/cudaprov/libonnxruntime_providers_cuda.so
  cp /tmp/cp/libonnxruntime_providers_shared.so /tmp/cudaprov/
  (cd /tmp/cudaprov && sha256sum -c --quiet /tmp/cp/sums.txt) && echo "provider sha256 ok"
  node bin/aivmm.js setup cuda --from /tmp/cudaprov; echo "setup rc=$?"
  node bin/aivmm.js devices --json > "$out/devices.json"; echo "devices rc=$?"
  while pgrep -f bench-gate-validity > /dev/null; do sleep 5; done
  cp /tmp/gate/* "$out/"; tail -30 /tmp/gate/gpu-gate-sequential.log
  [ -n "${SKIP_SHAPE:-}" ] || echo "== shape switch"; [ -n "${SKIP_SHAPE:-}" ] || timeout 120 node scripts/experiments/cuda-shape-switch.mjs /tmp/models/resnet50.onnx 1,15 20 2>&1 | tee "$out/shape-switch.log" ;;
5)
  source .gpu/enter.sh
  echo "== batching"; timeout ${BATCHING_S:-330} node scripts/bench-serve-batching.mjs --device GPU.0 --backend ort-cuda --model /tmp/models/resnet50.onnx \
    --seconds 1.5 --target 50 --modes ${MODES:-off,fixed,adaptive,fixed-one-session} ${LANE:+--lane $LANE} --concurrency ${CONC:-1,4,16,64} --out "$out/batching-cuda-resnet50${LANE:+-$LANE}.json" 2>&1 | tee "$out/batching${LANE:+-$LANE}.log"; echo "rc=$?" ;;
6)
  source .gpu/enter.sh
  echo "== balance"; timeout ${BALANCE_S:-300} node scripts/bench-serve-balance.mjs --devices GPU.0@ort-cuda,CPU --model /tmp/models/resnet50.onnx \
    --concurrency 64 --seconds 3 --target 100 --batching ${BATCHING:-adaptive} --rounds ${ROUNDS:-3} ${LANE:+--lane $LANE} ${THREADS:+--threads $THREADS} --out "$out/balance-cuda-cpu-resnet50.json" 2>&1 | tee "$out/balance.log"; echo "rc=$?" ;;
7)
  source .gpu/enter.sh
  echo "== large tensors"; timeout ${LARGE_S:-300} node scripts/bench-serve-large-tensors.mjs --roots .,/tmp/base --lanes ${LANES:-thread,process} --modes off,fixed --concurrency ${CONC:-16,64} --rounds ${ROUNDS:-2} --out "$out/large-tensors-h200.json" 2>&1 | tee "$out/large-tensors.log"; echo "rc=$?" ;;
8)
  source .gpu/enter.sh
  echo "== batching, older build"; timeout ${BATCHING_S:-330} node scripts/bench-serve-batching.mjs --bin /tmp/base/bin/aivmm.js --device GPU.0 --backend ort-cuda --model /tmp/models/resnet50.onnx \
    --seconds 1.5 --target 50 --modes ${MODES:-off,fixed} ${LANE:+--lane $LANE} --concurrency ${CONC:-16,64} --out "$out/batching-cuda-resnet50-base${LANE:+-$LANE}.json" 2>&1 | tee "$out/batching-base${LANE:+-$LANE}.log"; echo "rc=$?" ;;
esac
