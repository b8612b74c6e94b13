"""onnxruntime's own Python quantizer on aivmm's benchmark model: the peer output for
scripts/bench-quantize.ts. Run where the onnxruntime Python package is installed (the GPU machine):

    python3 scripts/peer/ort_quantize.py <export dir from bench-quantize.ts --export> <out dir>

Writes ort-static-qdq.onnx (quantize_static defaults: QDQ, QUInt8 activations, QInt8 weights, per
tensor, MinMax), ort-static-qdq-per-channel.onnx (same, per_channel=True), ort-dynamic.onnx
(quantize_dynamic defaults) and peer.json (versions, timings)."""
import glob
import json
import os
import platform
import sys
import time

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static


class NpyReader(CalibrationDataReader):
    def __init__(self, directory, input_name):
        self.files = sorted(glob.glob(os.path.join(directory, "*.npy")))
        self.input_name = input_name
        self.i = 0

    def get_next(self):
        if self.i >= len(self.files):
            return None
        x = np.load(self.files[self.i])
        self.i += 1
        return {self.input_name: x}

    def rewind(self):
        self.i = 0


def main():
    src_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    model = os.path.join(src_dir, "model.onnx")
    input_name = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).get_inputs()[0].name
    timings = {}
    for name, per_channel in (("ort-static-qdq.onnx", False), ("ort-static-qdq-per-channel.onnx", True)):
        t0 = time.perf_counter()
        quantize_static(
            model,
            os.path.join(out_dir, name),
            NpyReader(os.path.join(src_dir, "calib"), input_name),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
        )
        timings[name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    quantize_dynamic(model, os.path.join(out_dir, "ort-dynamic.onnx"))
    timings["ort-dynamic.onnx"] = time.perf_counter() - t0
    info = {
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "calibration_samples": len(glob.glob(os.path.join(src_dir, "calib", "*.npy"))),
        "quantize_seconds": timings,
    }
    with open(os.path.join(out_dir, "peer.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
