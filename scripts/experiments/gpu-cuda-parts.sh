#!/usr/bin/env bash
# Reassembles the CUDA provider library on the GPU machine from pieces carried over several device calls
# (a call carries 64 MiB at most; the provider is 229 MB, 164 MB as xz). Made here with:
#   npm pack com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9   (onnxruntime 1.29's CUDA 13 provider)
#   xz -9e -c package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so | split into .cp/p1…p5
# plus libonnxruntime_providers_shared.so and sums.txt (sha256 of both .so files) in .cp/.
# Usage (GPU machine, repository root):  bash scripts/experiments/gpu-cuda-parts.sh OUTDIR
# then:  node bin/aivmm.js setup cuda --from OUTDIR
set -euo pipefail
out=${1:?usage: gpu-cuda-parts.sh OUTDIR}
mkdir -p "$out"
cat .cp/p1 .cp/p2 .cp/p3 .cp/p4 .cp/p5 | xz -dc -T0 > "$out/libonnxruntime_providers_cuda.so"
cp .cp/libonnxruntime_providers_shared.so "$out/"
( cd "$out" && sed 's#package/Plugins/Linux/x64/##' "$OLDPWD/.cp/sums.txt" | sha256sum -c --quiet ) && echo "cuda provider assembled in $out (sha256 ok)"
