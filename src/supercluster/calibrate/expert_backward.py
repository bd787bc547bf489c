"""The expert GEMMs' backward on the device at hand: forward, data gradient and weight gradient of one grouped GEMM
(torch._grouped_mm), timed apart, beside the step model's three times (perf.expert_gemm.expert_linear_gemms_s).

The calibration sweep (calibrate.measure) times the expert up-projection forward only, yet a training step runs
two backward GEMMs per forward: the data gradient (dy W^T, the forward's shape with n and k swapped) and the weight
gradient (x^T dy per expert: a product whose inner dimension is the expert's token count, the form that suffers
most when experts get few tokens). Autograd's own backward of torch._grouped_mm runs each one when only its input
asks for a gradient, so each is timed as ``torch.autograd.grad`` with respect to that input alone.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from supercluster.calibrate.measure import EXPERT_SHAPES, LOCAL_EXPERTS
from supercluster.calibrate.profile import CalibrationProfile, accelerator_for
from supercluster.perf.expert_gemm import expert_linear_gemms_s

TOKENS = (64, 256, 1024, 4096)


def _median_s(torch: Any, fn: Any, reps: int = 9) -> float:
    fn()
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    sync()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return float(statistics.median(ts))


def run(
    profile: CalibrationProfile,
    shapes: tuple[tuple[int, int], ...] = EXPERT_SHAPES,
    tokens: tuple[int, ...] = TOKENS,
    experts: int = LOCAL_EXPERTS,
) -> list[dict[str, Any]]:
    """Per (hidden, ffn, tokens per expert): measured and predicted forward, data- and weight-gradient seconds."""
    from supercluster.calibrate.measure import _torch

    torch = _torch()
    device = profile.backend
    dtype = torch.bfloat16
    acc = accelerator_for(profile)
    rows = []
    for hidden, ffn in shapes:
        # the up-projection: x [T, hidden] @ W_g [hidden, ffn], weights column-major as the grouped kernel takes them
        w = torch.randn(experts, ffn, hidden, device=device, dtype=dtype).transpose(-2, -1).requires_grad_(True)
        for t in tokens:
            x = torch.randn(experts * t, hidden, device=device, dtype=dtype, requires_grad=True)
            offs = torch.arange(1, experts + 1, device=device, dtype=torch.int32) * t
            y = torch._grouped_mm(x, w, offs=offs)
            dy = torch.randn_like(y)
            fwd = _median_s(torch, lambda x=x, w=w, offs=offs: torch._grouped_mm(x.detach(), w.detach(), offs=offs))
            dgrad = _median_s(torch, lambda x=x, y=y, dy=dy: torch.autograd.grad(y, x, dy, retain_graph=True))
            wgrad = _median_s(torch, lambda y=y, w=w, dy=dy: torch.autograd.grad(y, w, dy, retain_graph=True))
            pred = expert_linear_gemms_s("grouped", experts, t, ffn, hidden, acc, "bf16", True)
            rows.append(
                {
                    "hidden": hidden,
                    "ffn": ffn,
                    "tokens_per_expert": t,
                    "experts": experts,
                    "fwd_s": fwd,
                    "dgrad_s": dgrad,
                    "wgrad_s": wgrad,
                    "predicted_fwd_s": pred[0],
                    "predicted_dgrad_s": pred[1],
                    "predicted_wgrad_s": pred[2],
                }
            )
            del x, y, dy
    return rows
