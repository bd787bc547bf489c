"""SMs that communication kernels take from the computation they overlap.

Mechanism. A collective that runs beside computation is not free: NCCL, Transformer Engine's userbuffers and DeepEP
move data with CUDA thread blocks that occupy streaming multiprocessors (SMs) for as long as they run, and those SMs
are not available to the GEMMs and attention kernels of the other stream. DeepSeek-V3 says so of its own all-to-all
kernels (arXiv:2412.19437, section 3.2.2: it partitions "20 SMs into 10 communication channels", and "only 20 SMs are
sufficient to fully utilize the bandwidths of IB and NVLink"; section 3.5.1: "the current communication
implementation relies on expensive SMs (e.g., we allocate 20 out of the 132 SMs available in the H800 GPU for this
purpose), which will limit the computational throughput"). Two ways a kernel can hold SMs:

- beside the computation (a bulk collective, an all-to-all on its own stream): the computation runs on
  ``n - k`` of the card's ``n`` SMs while both run, so the stretch of computation the collective overlaps,
  ``min(comm_s, compute_s)``, loses the share ``k / n`` of its throughput::

      cost = min(comm_s, compute_s) k / n

- with an SM margin (a GEMM launched on ``n - k`` SMs for its whole length, Transformer Engine's
  ``set_sm_margin``): the GEMM of ``compute_s`` alone is ``compute_s k / (n - k)`` longer::

      cost = compute_s k / (n - k)

SM count: 132 on H100 SXM5 (glennklockwood.com/garden/processors/h100, from NVIDIA's Hopper whitepaper: "Each H100
SXM5 GPU has: 8 GPCs, 66 TPCs, 132 SMs (2 per TPC)"), the card the SM settings of the recipes priced here were
tuned on (NeMo's userbuffers configurations; DeepEP's and DeepSeek-V3's 20 SMs on H800, the same 132-SM die). The
fraction ``k / n`` is kept on other cards, an assumption: Blackwell's 148 SMs would make the share about 11%
smaller, a second-order change. HBM bandwidth taken by the collective's copies is not priced (no source gives it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supercluster.errors import SuperclusterError

# SMs of the card the stacks' SM settings were tuned on (H100 SXM5 / H800; module docstring)
REFERENCE_SMS = 132.0


def share(sms: float) -> float:
    """Fraction of the card's SMs a communication kernel of ``sms`` SMs holds (module docstring)."""
    if not 0.0 <= sms < REFERENCE_SMS:
        raise SuperclusterError(f"communication SMs must be in [0, {REFERENCE_SMS:g}), got {sms}")
    return sms / REFERENCE_SMS


def beside_cost_s(comm_s: Any, compute_s: Any, sms: float) -> Any:
    """Seconds a collective of ``comm_s`` (alone) holding ``sms`` SMs adds to the computation of ``compute_s``
    (alone) it runs beside: ``min(comm_s, compute_s) k / n`` (module docstring; DeepSeek-V3, arXiv:2412.19437,
    sections 3.2.2 and 3.5.1)."""
    return np.minimum(comm_s, compute_s) * share(sms)


def margin_cost_s(compute_s: Any, sms: float) -> Any:
    """Seconds a GEMM of ``compute_s`` (alone) loses when launched on all but ``sms`` SMs for its whole length
    (Transformer Engine's ``set_sm_margin``): ``compute_s k / (n - k)`` (module docstring)."""
    s = share(sms)
    return compute_s * s / (1.0 - s)
