# Shared prelude of the one-off GPU experiments in this folder (source it, don't run it):
#   . "$(dirname "$0")/prelude.sh"
# It moves to the repository root (the experiments run bin/aivmm.js and dist/: `npm run build` first), keeps
# aivmm's cache in a fresh temp dir unless AIVMM_CACHE_DIR is set, and defines the helpers the logs in
# docs/results/ were written with. They ran on the GPU machine after `source .gpu/enter.sh`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
export AIVMM_CACHE_DIR=${AIVMM_CACHE_DIR:-$(mktemp -d)}
X=scripts/experiments

log() { echo "== $*"; }
# aivmm with its command line and exit status in the log
a() { log "aivmm $*"; node bin/aivmm.js "$@"; echo "rc=$?"; }
# N processes sharing the GPU (gpu-processes.mjs)
P() { log "processes: $*"; node $X/gpu-processes.mjs "$@"; echo "rc=$?"; }
# embedded DIR NAME...: write aivmm's embedded models (mobilenetv2-seeded, tiny-convnet, probe-mlp) to DIR/NAME.onnx
embedded() {
  local dir=$1; shift; mkdir -p "$dir"
  node --input-type=module -e "const { ensureEmbeddedModel } = await import('./dist/index.js'); const [dir, ...names] = process.argv.slice(1); for (const n of names) await ensureEmbeddedModel(n, dir);" "$dir" "$@"
}
# fp16io OUT.onnx: the embedded MobileNetV2 in FP16 with float16 inputs and outputs
fp16io() { node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o "$1" --no-latency >/dev/null 2>&1; echo "quantize rc=$?"; }
# cuda_setup LIBDIR: bring in the CUDA provider libraries (aivmm setup cuda --from)
cuda_setup() { node bin/aivmm.js setup cuda --from "$1" >/dev/null; echo "setup rc=$?"; }
