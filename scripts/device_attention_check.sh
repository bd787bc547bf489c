#!/usr/bin/env bash
# Causal attention forward and backward on the lent GPU from 2K to 128K tokens, per SDPA backend (cuDNN, flash),
# 32 heads of 128, BF16: the in-isolation efficiency curve the long-context rows need. < 3 minutes.
# Usage on the device machine: bash scripts/device_attention_check.sh   (writes into $OUT, or ./device-out)
set -euo pipefail
# shellcheck source=scripts/device_env.sh
. scripts/device_env.sh
python3 - "$out/attention_curve.json" <<'PY'
import json, statistics, sys, time
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

F = torch.nn.functional
heads, hd = 32, 128
rows = []
for name, backend in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
    for seq in (2048, 4096, 8192, 16384, 32768, 65536, 131072):
        q, k, v = (torch.randn(1, heads, seq, hd, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
        try:
            with sdpa_kernel(backend):
                def fwd():
                    with torch.no_grad():
                        F.scaled_dot_product_attention(q, k, v, is_causal=True)
                def fwd_bwd():
                    F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
                out = {}
                for label, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
                    for _ in range(3):
                        fn()
                    torch.cuda.synchronize()
                    ts = []
                    for _ in range(7):
                        t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t0)
                    out[label] = statistics.median(ts)
        except RuntimeError as err:
            rows.append({"backend": name, "seq": seq, "error": str(err).splitlines()[0][:160]})
            continue
        flops_fwd = 2.0 * heads * seq * seq * hd  # causal: half of 4 h s^2 d
        bwd = max(out["fwd_bwd"] - out["fwd"], 1e-9)
        rows.append({
            "backend": name, "seq": seq, "heads": heads, "head_dim": hd,
            "fwd_s": out["fwd"], "bwd_s": bwd,
            "fwd_tflops": flops_fwd / out["fwd"] / 1e12, "bwd_tflops": 2.5 * flops_fwd / bwd / 1e12,
        })
        print(rows[-1], flush=True)
        del q, k, v
        torch.cuda.empty_cache()
res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda, "rows": rows}
open(sys.argv[1], "w").write(json.dumps(res, indent=1))
PY
