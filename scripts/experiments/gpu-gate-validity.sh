#!/usr/bin/env bash
# Experiment (issue #21, 2026-12-02): the CI gate's validity on the GPU machine's CPU (16 cores): ~100
# --against decisions per architecture, A/A and a +8% compute twin, over torchvision exports made here
# (random weights: the machine has no network) — the call cannot carry the models (64 MiB in all).
# Runners run in parallel, each pinned to its own cores (taskset), like CI jobs sharing one host.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-gate-validity.sh OUTDIR
#   env: TOTAL (s, whole script, default 520), PARALLEL (8), THREADS (2), DURATION (4s), WARMUP (500ms),
#        MODES (against), TWINS (8), ARCHS (mobilenet_v2,squeezenet1_1,resnet18,resnet50,bert_small), RUNS (100)
# → OUTDIR/gpu-gate-validity.log, OUTDIR/gpu-gate-validity.json
# Size (64 MiB per call, tree ≈ 17 MB): on 2026-12-02 pack.sh's .gpu was 55 MB; this ran with .gpu less
# npm.tar.xz and the .deb loaders (not needed on CPU), node_modules repacked without other platforms' koffi
# builds, *.d.ts and *.map (24 MB), and dist without *.d.ts / *.map (1.4 MB). If enter.sh fails once, it leaves
# an empty /opt/gpu-node/bin/node that later calls on that machine keep: rm it first.
. "$(dirname "$0")/prelude.sh"
out=${1:?usage: gpu-gate-validity.sh OUTDIR}
mkdir -p "$out"
start=$(date +%s)
archs=${ARCHS:-mobilenet_v2,squeezenet1_1,resnet18,resnet50,bert_small}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  date -u; uptime; nproc
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core|Socket|NUMA node|L3' || true
  command -v taskset || echo "no taskset: runners will not be pinned"
  log "export ${archs} (torchvision/transformers, random weights, opset 17)"
  python3 scripts/fixtures/export_torchvision.py "$tmp/models" --no-peer --only "$archs" > "$tmp/export.json" || { echo "export failed"; exit 1; }
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print({k: v['bytes'] for k, v in d['models'].get('files', {}).items()}, d['torch'], d['torchvision'])" "$tmp/export.json"
  left=$(( ${TOTAL:-520} - ($(date +%s) - start) - 5 ))
  log "export took $(( $(date +%s) - start )) s; validity budget ${left} s"
  node scripts/bench-gate-validity.mjs --models "$tmp/models" --archs "$archs" --modes "${MODES:-against}" \
    --twins "${TWINS:-8}" --runs "${RUNS:-100}" --threads "${THREADS:-2}" --parallel "${PARALLEL:-8}" \
    --duration "${DURATION:-4s}" --warmup "${WARMUP:-500ms}" --calibrate 3s --time-budget "${left}s" \
    --out "$out/gpu-gate-validity.json"
  echo "rc=$?"
  date -u; uptime
} > "$out/gpu-gate-validity.log" 2>&1
