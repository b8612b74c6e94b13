#!/usr/bin/env bash
# Experiment (issue #21, 2026-12-02): why --against said "too noisy" for identical models on the GPU
# machine's CPU — ORT's idle intra-op threads spin after a run, so the session that just ran steals cores
# from the other's next block. 8 pinned A/A --against runs per model (taskset, --threads 2, 2 s), ORT's
# default vs session.intra_op.allow_spinning=0; prints each run's verdict, ratio, CI, p50 and block ratios.
# Result: docs/results/2026-12-02-h200-gate-spinning.log (default: ratios alternating ≈2.0/0.5 on resnet18).
# Since then --against turns spinning off itself, so "default" there equals "nospin" here.
# Run (GPU machine):  source .gpu/enter.sh && bash scripts/experiments/gpu-gate-spinning.sh > OUT.log
. "$(dirname "$0")/prelude.sh"
m=$(mktemp -d)
trap 'rm -rf "$m"' EXIT
python3 scripts/fixtures/export_torchvision.py "$m" --no-peer --only resnet18,mobilenet_v2,bert_small > /dev/null 2>&1
for a in resnet18 mobilenet_v2 bert_small; do cp "$m/$a.onnx" "$m/$a.b.onnx"; done
for setting in default nospin; do
  extra=(); [ $setting = nospin ] && extra=(--ep-option session.intra_op.allow_spinning=0)
  for a in resnet18 mobilenet_v2 bert_small; do
    for i in 0 1 2 3 4 5 6 7; do
      taskset -c $((2*i)),$((2*i+1)) node bin/aivmm.js bench "$m/$a.onnx" --against "$m/$a.b.onnx" -d CPU --backend ort-cpu --threads 2 --duration 2s --warmup 500ms --json "${extra[@]}" 2>/dev/null \
       | node -e "const d=JSON.parse(require('fs').readFileSync(0));const r=d.data.rows[0];const c=d.data.gate.rows[0].comparison;const p=r.paired;console.log('$setting $a', c.verdict, c.ratio.toFixed(3), c.ratioCi95.map(x=>x.toFixed(3)).join('-'), 'p50', r.stats.p50.toFixed(2), 'pairs', p.current.length, 'bs', p.blockSize, 'r:', p.current.map((x,k)=>(x/p.old[k]).toFixed(2)).join(' '))" &
    done
    wait
  done
done
