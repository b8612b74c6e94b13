set -u
export AIVMM_CACHE_DIR=$(mktemp -d)
a() { echo "\$ aivmm $*"; node bin/aivmm.js "$@" 2>&1 | grep -E "GPU.0  │|error|warning|fallback"; echo "(exit ${PIPESTATUS[0]})"; }
node bin/aivmm.js quantize --mode fp16 --no-keep-io-types -o /tmp/f.onnx --no-latency >/dev/null 2>&1
a bench --device GPU.0 --batch 1,32 --duration 3s --ep-option ep.webgpuexecutionprovider.enableGraphCapture=1
a bench /tmp/f.onnx --device GPU.0 --batch 1,32 --duration 3s --ep-option ep.webgpuexecutionprovider.enableGraphCapture=1
a bench /tmp/f.onnx --device GPU.0 --batch 1,32,64,128 --duration 3s --ep-option preferredLayout=NHWC --ep-option validationMode=disabled
a bench --device GPU.0 --batch 1,32 --duration 3s
