"""What the model charges for the expert-parallel all-to-all on GB200/GB300 NVL72, against what is published (issue 15)

Question: the DGX Cloud DeepSeek-V3 GB200 rows (dgxcv2505-gb200-dsv3-bf16-{128,256,512}: NeMo 25.04.01, Megatron's
NCCL all-to-all dispatcher, tp2 pp4 ep32/64) read about +79% too fast. Is the model's price for an all-to-all over
32-64 ranks of one NVL72 domain (multi-node NVLink, MNNVL) too cheap?

What the model charges (fabric.collectives.CollectiveModel.all_to_all): a group inside one NVLink domain moves
(n - 1) / n of each rank's bytes at the card's scale-up bus bandwidth, 740 GB/s for gb200 and gb300 (900 GB/s per
direction x 370/450, the H100 NVLink protocol efficiency; catalog accelerators.yaml), plus one ring latency step:
an implied bus bandwidth of ~740 GB/s and algorithm bandwidth 740 x n / (n - 1) for messages of hundreds of MB.

What is published for GB200 NVL72 (each read from the source; "algbw" is bytes / time as the source defines it):

- NCCL all-reduce across the full rack, 72 GPUs (CoreWeave, coreweave/nccl-tests PR 43, "Example output for a full
  nvl72 rack run"): busbw 586 GB/s at 512 MiB, 757.8 at 2 GiB, 839.2 at 4 GiB, "Avg bus bandwidth : 745.53". The
  ring/NVLS rate over MNNVL is the rate the model uses (740).
- HybridEP (NVIDIA's MNNVL dispatcher, deepseek-ai/DeepEP hybrid-ep branch, Hybrid-EP_Implementation.md, "GB200
  Platform", 4096 tokens, hidden 7168, top-8, "All bandwidth values represent algorithm bandwidth"): 32 ranks,
  32 SMs, Torch API: dispatch BF16 484.22, combine 464.54 GB/s (kernel only 642.23 / 605.15); 36 ranks 479.02 /
  447.89; 8 ranks 545.71 / 568.94.
- DeepEP with the community NVL72 patch (Megatron-LM docs/discussions/deepseek-v3-gb200-optimization, 2.2.1): "In
  the EP32 scenario, the dispatch can only reach about 400 GB/s and the combine can only reach about 190 GB/s
  algorithm bandwidth with 24 SMs, which is a large gap from the unidirectional bandwidth of 900 GB/s for MNNVL";
  the same guide's HybridEP table (DeepEP README of the hybrid-ep branch) has DeepEP at 24 ranks, 24 SMs: dispatch
  BF16 450.22, combine 163.62 GB/s.
- NCCL all-to-all at 32-64 ranks over MNNVL with MoE-sized messages: no measurement found (searched NVIDIA/nccl and
  nccl-tests issues, the NCCL release notes, NVIDIA and TRT-LLM blogs, DeepEP, Megatron, rapidsmpf). The nearest:
  rapidsai/rapidsmpf issue 833, "NCCL achieves ~40GiB/s on 64 GPUs" on NVL72 (a shuffle benchmark's per-GPU
  throughput; message size and the send/receive accounting not stated, so not comparable); and the Megatron GB200
  guide's qualitative "The NCCL-based token dispatcher, which requires explicit global token permutation, is not
  optimal" (its cost is the permutation kernels and host overhead it names, not a bandwidth).

This script prices, for every GB200/GB300 MoE row whose EP group leaves the 4-GPU tray, one forward dispatch of the
busiest micro-batch (tokens per rank x hidden x 2 bytes x top-k, Megatron's per-expert copies) with the model's
collective model and prints its time and implied bandwidth, and the bus bandwidth at which the model's whole EP term
would have to run for the row's predicted step to equal the measured one (``break-even busbw``, ignoring the
latency term): ep_comm_s x 740 / (ep_comm_s + measured - predicted). A row the model prices too fast with a
break-even rate far below every published MNNVL rate is not explained by the all-to-all rate.

Findings (benchmarks/results/mnnvl_a2a_check.json, main a85d9ab; validate all 7.50% MAPE, LOSO column 7.78%):

- The model's NCCL all-to-all for the DeepSeek-V3 GB200 rows (2,048 tokens x 7,168 x 2 bytes x top-8 = 234.9 MB
  per rank): 0.421 ms at EP 32 (113.8 us of latency, 8.4 + 31 x 3.4, and 31/32 x 234.9 MB / 740 GB/s), 558 GB/s
  algbw; 439 GB/s at EP 64. That is HybridEP's published Torch-API rate (484 / 465) and above DeepEP's (400 / 190),
  below HybridEP's kernel-only rate (642 / 605): not cheaper than the best published MNNVL exchange at 32 ranks.
- Break-even: the DeepSeek-V3 rows' EP term would have to run at 47-48 GB/s algbw to close +78..+81%, about one
  400G NIC ("CX-7 NICs at NDR rate (400Gbps) should achieve up to 48-49GB/s per NIC", nccl-tests issue 267) and
  8-10x below every published MNNVL rate. The same stack's Llama 4 GB200 rows (EP 64, top-1) break even at 70-394.
- What-ifs (:func:`whatif`, each exchange inside one NVL72 domain priced at max(latency, bytes / rate)):
  HybridEP's kernel-only rate (624) on the DeepEP/HybridEP rows: 7.50 -> 7.50 (LOSO 7.78 -> 7.80), the model's
  per-destination price already matches it (EP 32: 635 GB/s); HybridEP's Torch-API rate (474) on those rows: 7.50
  -> 7.58 (7.85), MXFP8 MoE 10.57 -> 12.38, 11 Megatron-Bridge tables worse by 2-7 points; 474 on the NCCL rows:
  7.50 -> 7.50 (7.78), DeepSeek-V3 GB200 +78..+81 -> +78..+80; one NIC's 48 on the NCCL rows: 7.77 (7.88),
  DeepSeek-V3 GB200 -6..-7 but Llama 4 GB200 -7..-13, Megatron-Bridge GPT-OSS / Qwen3 FP8 -46..-73, Mixtral -26..-44.
- So no rate of the all-to-all over MNNVL explains the DeepSeek-V3 rows without breaking the rows that share it; a
  route over InfiniBand (scripts/ep_route_diagnosis.py) remains the only fabric reading that fits, and it has no
  source. Nothing lands.

Run:

    python scripts/mnnvl_a2a_check.py [OUT.json] [--whatif]   # default benchmarks/results/mnnvl_a2a_check.json

Bounded: the GB200/GB300 MoE rows of the bundled sets whose EP group spans trays (39), priced once each; --whatif adds
five validate-all runs (seconds each).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import numpy as np
from rich.console import Console
from rich.table import Table
from script_args import run

from supercluster.errors import SuperclusterError
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.fabric.placement import ep_stride
from supercluster.perf.layer import expert_dispatch
from supercluster.perf.routing import destinations
from supercluster.validate import harness
from supercluster.validate.harness import measured_estimate, predict_row, read_rows
from supercluster.validate.rows import row_model

TRAY_GPUS = 4
NVL72_GPUS = 72
CARDS = ("gb200", "gb300")
# Published algorithm bandwidths on GB200 NVL72 at 32-36 ranks (GB/s), see the module docstring.
PUBLISHED_ALGBW_GB_S = {
    "hybridep_dispatch_bf16_32": 484.22,
    "hybridep_combine_32": 464.54,
    "hybridep_kernel_dispatch_bf16_32": 642.23,
    "hybridep_kernel_combine_32": 605.15,
    "deepep_dispatch_ep32": 400.0,
    "deepep_combine_ep32": 190.0,
}
# The experiments of :func:`whatif`: which exchange is repriced, at what algorithm bandwidth (GB/s). 474: the mean of
# HybridEP's published 32-rank dispatch (484.22) and combine (464.54) through the Torch API; 624: the same through
# the kernels alone (642.23, 605.15), the rate a CUDA-graphed step sees; 48: one 400G ConnectX-7's NCCL rate ("CX-7
# NICs at NDR rate (400Gbps) should achieve up to 48-49GB/s per NIC", NVIDIA/nccl-tests issue 267), the rate the
# DeepSeek-V3 rows' break-even comes to.
SCENARIOS = {
    "hybridep_kernel_rate_on_flex_rows": ("per-destination", 624.0),
    "hybridep_rate_on_flex_rows": ("per-destination", 474.0),
    "hybridep_rate_on_nccl_rows": ("per-expert", 474.0),
    "nic_rate_on_nccl_rows": ("per-expert", 48.0),
}


def token_bytes_per_rank(specs, plan) -> float:
    """Bytes of the tokens one rank routes in one micro-batch: micro_batch x seq / cp / tp tokens (sequence
    parallelism splits them over TP, as Megatron-Core's MoE layer does) x hidden x 2 bytes (BF16 activations)."""
    tokens = plan.micro_batch * specs.workload.seq / (plan.cp or 1) / (plan.tp or 1)
    return tokens * specs.model.hidden * 2.0


def one_dispatch(specs, plan, comm: CollectiveModel) -> tuple[float, float]:
    """(bytes moved, seconds) of one forward dispatch as the model prices it (perf.layer.expert_dispatch, which
    returns dispatch plus combine). Bytes as each family's benchmark counts them: Megatron's all-to-all sends a copy
    per routed expert (nccl-tests algbw = bytes sent per rank / time); DeepEP and HybridEP count one copy per
    destination rank (their "algorithm bandwidth"), the expected number of distinct ranks per token from
    perf.routing.destinations."""
    sw, model = specs.software, specs.model
    tb = token_bytes_per_rank(specs, plan)
    seconds = expert_dispatch(model, plan, sw, comm, tb) / 2.0
    if sw.ep_dispatch == "per-destination":
        span = span_of(plan.ep, ep_stride(plan, sw), comm.domain)
        ranks, _ = destinations(
            model.moe_experts,
            model.moe_topk,
            plan.ep,
            int(min(span.k, plan.ep)),
            model.moe_router,
            model.moe_node_limit,
        )
        return tb * float(ranks), seconds
    return tb * model.moe_topk, seconds


def check(row: dict[str, str]) -> dict:
    """One row at the layout validation prices it at (harness.measured_estimate): the model's price for one
    dispatch, the whole EP term, and the algorithm bandwidth at which the EP term would close the row's error. A
    speed error e (+ = model too fast) means the measured step is the predicted one x (1 + e / 100), for step-time
    and throughput metrics alike; ignoring the latency part, the EP term would have to take ep_comm_s + gap."""
    specs, est = measured_estimate(row)
    plan = est.plan
    res = predict_row(row)
    comm = CollectiveModel(specs.system)
    moved, t_one = one_dispatch(specs, plan, comm)
    algbw = moved / t_one / 1e9 if t_one > 0 else None
    pred = float(est.step_time_s)
    err = float(res.speed_error_pct or 0.0)
    ep_s = float(est.ep_comm_s)
    gap = pred * err / 100.0
    need = algbw * ep_s / (ep_s + gap) if algbw and ep_s > 0 and ep_s + gap > 0 else None
    return {
        "id": row["id"],
        "gpu": row["gpu"],
        "model": row["model"],
        "software": specs.system.software,
        "ep_dispatch": specs.software.ep_dispatch,
        "layout": plan.label(),
        "ep": plan.ep,
        "trays": -(-plan.ep * (plan.etp or 1) // TRAY_GPUS),
        "dispatch_mb_per_rank": moved / 1e6,
        "dispatch_time_ms": 1e3 * t_one,
        "algbw_gb_s": algbw,
        "ep_comm_s": ep_s,
        "predicted_step_s": pred,
        "speed_error_pct": err,
        "break_even_algbw_gb_s": need,
    }


def rows_to_check() -> list[dict[str, str]]:
    """GB200/GB300 MoE throughput and step-time rows whose expert-parallel group spans more than one tray."""
    _, rows = read_rows("all")
    out = []
    for r in rows:
        if r.get("gpu", "").strip() not in CARDS or r.get("metric") == "activation_gib_per_gpu":
            continue
        if not row_model(r).is_moe:
            continue
        plan = measured_estimate(r)[1].plan
        if (plan.ep or 1) * (plan.etp or 1) > TRAY_GPUS:
            out.append(r)
    return out


@contextmanager
def priced_at(mode: str, algbw_gb_s: float) -> Iterator[None]:
    """Within the block, an EP exchange inside one NVL72 domain (a 72-GPU scale-up domain, the whole group in it,
    more than one tray) costs bytes / ``algbw_gb_s`` (a published algorithm bandwidth is bytes over the whole call's
    time, its fixed costs included), at least the model's latency term: ``mode`` "per-expert" for
    Megatron's NCCL all-to-all (bytes sent per rank), "per-destination" for DeepEP/HybridEP (one copy per destination
    rank). An experiment only (the catalog and the model stay as they are): the published rates belong to other
    software or to no source at all, which is what the experiment weighs."""
    rate = algbw_gb_s * 1e9
    a2a0, disp0 = CollectiveModel.all_to_all, CollectiveModel.dispatch

    def inside(self: CollectiveModel, span: Any) -> bool:
        n, k = np.asarray(span.n), np.asarray(span.k)
        return bool(self.domain >= NVL72_GPUS and np.all(k >= n) and np.all(n > TRAY_GPUS))

    def scalar_or_array(t: Any) -> Any:
        return float(t) if np.ndim(t) == 0 else t

    def a2a(self: CollectiveModel, nbytes: Any, span: Any) -> Any:
        if mode != "per-expert" or not inside(self, span):
            return a2a0(self, nbytes, span)
        lat = self._ring_latency(span, 1, "Simple")
        return scalar_or_array(np.where(np.asarray(nbytes) > 0, np.maximum(lat, np.asarray(nbytes) / rate), 0.0))

    def disp(self: CollectiveModel, token_bytes: Any, ranks: Any, domains: Any, span: Any) -> Any:
        if mode != "per-destination" or not inside(self, span):
            return disp0(self, token_bytes, ranks, domains, span)
        lat = self._ring_latency(span, 1, "Simple")
        moved = np.asarray(token_bytes) * np.asarray(ranks)
        return scalar_or_array(np.where(np.asarray(token_bytes) > 0, np.maximum(lat, moved / rate), 0.0))

    with patch.object(CollectiveModel, "all_to_all", a2a), patch.object(CollectiveModel, "dispatch", disp):
        yield


GROUPS = ("bf16 moe throughput", "fp8 moe throughput", "mxfp8 moe throughput", "bf16 dense throughput")


def summarise(report: Any) -> dict:
    """The accuracy-protocol figures of one validate-all report: all rows (MAPE, LOSO, signed), the MoE and BF16
    dense groups, the GPU bands, every source table's MAPE and every row's speed error."""
    s = report.summary()
    return {
        "all": {k: s[k] for k in ("mape_pct", "loso_mape_pct", "mean_speed_error_pct")},
        "groups": {g: s["per_group"][g] for g in GROUPS if g in s["per_group"]},
        "bands": s["per_gpu_band"],
        "tables": {k: v["mape_pct"] for k, v in s["per_source"].items() if v["mape_pct"] is not None},
        "rows": {r.id: r.speed_error_pct for r in report.rows},
    }


def whatif() -> dict:
    """validate all as the model stands and with the in-domain exchange priced at each scenario's rate."""
    base = summarise(harness.run("all"))
    out = {"model": {k: base[k] for k in ("all", "groups", "bands")}}
    for name, (mode, rate) in SCENARIOS.items():
        with priced_at(mode, rate):
            sc = summarise(harness.run("all"))
        # kept: the source tables that move by more than 2 points and the rows by more than 0.5 (before, after)
        sc["tables"] = {t: [base["tables"][t], v] for t, v in sc["tables"].items() if abs(v - base["tables"][t]) > 2}
        sc["rows"] = {
            r: [base["rows"][r], v]
            for r, v in sc["rows"].items()
            if v is not None and base["rows"].get(r) is not None and abs(v - base["rows"][r]) > 0.5
        }
        out[name] = sc
    return out


def main(argv: list[str]) -> None:
    unknown = [a for a in argv if a.startswith("-") and a != "--whatif"]
    paths = [a for a in argv if not a.startswith("-")]
    if unknown or len(paths) > 1:
        what = f"unknown option '{unknown[0]}'" if unknown else f"more than one output path ({', '.join(paths)})"
        raise SuperclusterError(f"{what}; valid: --whatif and one OUT.json path")
    path = Path(paths[0]) if paths else Path("benchmarks/results/mnnvl_a2a_check.json")
    done = [check(r) for r in rows_to_check()]
    table = Table(title="EP all-to-all on NVL72: model price vs break-even")
    for col in ("row", "disp", "EP", "MB", "ms", "algbw", "err%", "need"):
        table.add_column(col, justify="left" if col == "row" else "right")
    for d in done:
        need = d["break_even_algbw_gb_s"]
        table.add_row(
            d["id"][:30],
            d["ep_dispatch"][:8],
            str(d["ep"]),
            f"{d['dispatch_mb_per_rank']:.0f}",
            f"{d['dispatch_time_ms']:.2f}",
            f"{d['algbw_gb_s']:.0f}",
            f"{d['speed_error_pct']:+.0f}",
            "-" if need is None else f"{need:.0f}",
        )
    Console(width=80).print(table)
    out: dict[str, Any] = {"published_algbw_gb_s": PUBLISHED_ALGBW_GB_S, "rows": done}
    if "--whatif" in argv:
        out["whatif"] = whatif()
        base = out["whatif"]["model"]["all"]
        for name in SCENARIOS:
            sc = out["whatif"][name]
            print(
                f"{name}: all {base['mape_pct']:.2f} -> {sc['all']['mape_pct']:.2f}, LOSO "
                f"{base['loso_mape_pct']:.2f} -> {sc['all']['loso_mape_pct']:.2f}, tables moved >2: {len(sc['tables'])}"
            )
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print("wrote", path)


if __name__ == "__main__":
    run(main, sys.argv[1:])
