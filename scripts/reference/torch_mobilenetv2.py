"""PyTorch eager baseline for issue #7 (MobileNetV2, torchvision's architecture, random weights), to be run in the
same call as aivmm's benches on the GPU machine so both numbers come from the same card and moment:

    python3 scripts/reference/torch_mobilenetv2.py [seconds]

Per (dtype, batch): p50 of synchronised single requests (input already on the GPU, as PyTorch users keep it)
and the pipelined rate (requests issued back to back, one synchronisation at the end). One JSON line each.
"""
import json
import sys
import time

import torch

try:
    import torchvision
except ImportError:
    print(json.dumps({"error": "torchvision is not installed"}))
    sys.exit(3)

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
model = torchvision.models.mobilenet_v2().cuda().eval()
print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__, "device": torch.cuda.get_device_name(0)}))
for dtype in (torch.float32, torch.float16):
    m = model.to(dtype)
    for batch in (1, 32):
        x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=dtype)
        with torch.inference_mode():
            for _ in range(30):
                m(x)
            torch.cuda.synchronize()
            times = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t = time.perf_counter()
                m(x)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            n = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                m(x)
                n += 1
            torch.cuda.synchronize()
            pipelined = n * batch / (time.perf_counter() - t0)
        times.sort()
        p50 = times[len(times) // 2]
        print(json.dumps({"dtype": str(dtype).replace("torch.", ""), "batch": batch, "runs": len(times), "p50Ms": round(p50 * 1000, 3),
                          "syncedItemsPerS": round(batch / p50), "pipelinedItemsPerS": round(pipelined)}))
