"""Does an expert-parallel all-to-all that crosses nodes lose per-GPU bandwidth as it spans more nodes? (issue 14
item 3, issue 15 item 4)

The step model prices a cross-node EP all-to-all (fabric.collectives.CollectiveModel.all_to_all, and .dispatch for
DeepEP's per-destination kernels) with a network term ``(n - k) / n x bytes / nic_busbw``: one NIC per GPU at the
rate NCCL measures for one 400G NIC (47 GB/s on NDR400), whatever the number of nodes. That is NCCL's own stated
expectation ("As the number of nodes increases, it will go down to 1x the network bandwidth per GPU (general formula
is N/(N-1)x the bandwidth per GPU, N being the number of nodes)", S. Jeaugey, NVIDIA/nccl-tests issue #130, on the
alltoall bus bandwidth). This script checks that pricing against published cross-node all-to-all measurements, and
checks on the whole validation set whether the MoE rows' speed error grows with the number of scale-up domains their
EP group spans, which a missing per-peer or per-node loss would produce.

Published curve (H800 or H100, one ConnectX-7 400 Gb/s NIC per GPU, DeepSeek-V3's dispatch shape):

- deepseek-ai/DeepEP docs/legacy.md, normal kernels (V1): "Internode | 16 | 43 GB/s (RDMA)", "32 | 58 GB/s (RDMA)",
  "64 | 51 GB/s (RDMA)" dispatch bottleneck bandwidth, "4096 tokens per batch, 7168 hidden, top-4 groups, top-8
  experts, FP8 dispatching and BF16 combining";
- deepseek-ai/DeepEP README.md (V2): "SM90 | CX7 | EP 8 x 2 | 90 GB/s (RDMA)" and "EP 8 x 4 | 61 GB/s (RDMA)" dispatch,
  with the note "the results are logical bandwidth. For example, under the `EP 8 x 2` case, 90 GB/s actually
  contains local rank traffic."

Both count as RDMA bytes every (token, destination node) pair, the sender's own node included (tests/test_internode.py:
``num_rdma_token_sent = rdma_idx.ne(-1).sum()`` over the token's distinct nodes, with experts drawn at random and
``num_topk_groups = min(num_nodes, 4)``). With experts drawn uniformly, a token's destination nodes are symmetric in
the node index, so 1/N of its (token, node) pairs are local and the bytes that really cross the NIC are
``logical x (N - 1) / N`` (:func:`physical_gb_per_s`): 21.5 (V1, 2 nodes), 43.5 (V1, 4), 44.6 (V1, 8), 45.0 (V2, 2),
45.8 GB/s (V2, 4). From 4 to 8 nodes (V1) and 2 to 4 nodes (V2) the per-GPU rate does not fall; it stays at 87-92% of
the 50 GB/s line rate. (The V1 2-node figure is the library's first release, before the Tencent changes of 2025-04-22
that raised the 4- and 8-node figures from 44/46 to 58/51 logical; V2 at 2 nodes reads 45.0.)

The model's per-GPU network rate for the same all-to-all on dgx-h100-superpod (8 GPUs per node, NDR400, 256 MB per
rank; network bytes over the whole call's time, NVLink share and NCCL latency included; :func:`model_gb_per_s`):
41.3 (2 nodes), 43.8 (4), 43.6 GB/s (8): within 8% of the published rates and, like them, flat in the node count.

Findings (main at 32c79be; benchmarks/results/a2a_scale_diagnosis.json; no step-model change came out of them):

- No published measurement found supports a per-GPU all-to-all bandwidth that falls with the number of peers or nodes
  on a healthy 400G fabric between 2 and 8 nodes. The NCCL issues that report one (NVIDIA/nccl #1531, H800 8 nodes,
  24 GB/s at 8 MB; #1792, 16 H20 nodes, "20+GB") are small messages or a fabric the maintainers call "not the
  expected behavior"; neither gives a curve to model from.
- MoE rows by EP domains spanned (speed error mean, + = model too fast; 163 rows with EP > 1): inside one domain
  +3.0 (107 rows), 2 domains +18.3 (8), 4 domains +7.6 (38), 8 domains +5.3 (7), 16 or more -5.4 (3: Llama 4
  Maverick EP128 on H100 -14..-17, DeepSeek-V3 FP8 EP64 +14.5). The error does not grow with the domains spanned; a
  node-count loss would slow the 8- and 64-domain rows most, which already read least optimistic or pessimistic.
- The 2-domain mean comes from the Parallel Folding Mixtral-8x22B-G8T8 MCore series (tp2 ep8: EP over 2 nodes at
  128, 256, 512 and 1,024 GPUs alike, +12/+19/+31/+51). Its EP group is the same at every GPU count, so no function
  of peers or nodes can make it grow with the GPU count; scripts/weakscale_diagnosis.py places its missing ~1.5 s per
  step in the per-step terms. Grok-1 H100 (EP over 4 nodes, k = 2) reads +7..+16 flat from 64 to 2,048 GPUs.

Run (bounded: one estimate per MoE row of the bundled sets, ~170 rows, ~20 s on one core):

    python scripts/a2a_scale_diagnosis.py [OUT.json]   # default benchmarks/results/a2a_scale_diagnosis.json
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table
from script_args import guarded

from supercluster import catalog
from supercluster.fabric.collectives import CollectiveModel, span_of
from supercluster.fabric.placement import ep_stride
from supercluster.plan import resolve
from supercluster.units import GB
from supercluster.validate.harness import predict_row, read_rows
from supercluster.validate.rows import row_model, row_plan, row_system, row_workload

# (source, EP ranks, GPUs per node, dispatch bandwidth as printed, GB/s logical: local node's pairs counted)
PUBLISHED = (
    ("DeepEP V1 docs/legacy.md", 16, 8, 43.0),
    ("DeepEP V1 docs/legacy.md", 32, 8, 58.0),
    ("DeepEP V1 docs/legacy.md", 64, 8, 51.0),
    ("DeepEP V2 README.md", 16, 8, 90.0),
    ("DeepEP V2 README.md", 32, 8, 61.0),
)
MESSAGE_BYTES = 256e6  # per rank: the large-message end of an alltoall_perf sweep, where latency is amortised


def physical_gb_per_s(logical_gb_per_s: float, nodes: int) -> float:
    """Bytes that cross the NIC per second from a DeepEP 'logical' RDMA bandwidth that counts every (token,
    destination node) pair, the sender's node included: by the symmetry of uniformly drawn experts 1/N of the pairs
    are local, so the physical rate is ``logical x (N - 1) / N`` (DeepEP README V2 note on logical bandwidth;
    tests/test_internode.py ``num_rdma_token_sent``)."""
    if nodes < 2:
        raise ValueError(f"a cross-node rate needs at least 2 nodes, got {nodes}")
    return logical_gb_per_s * (nodes - 1) / nodes


def model_gb_per_s(system_name: str, ranks: int, nbytes: float = MESSAGE_BYTES) -> float:
    """The model's per-GPU network rate for one all-to-all of ``nbytes`` per rank over ``ranks`` consecutive GPUs:
    the bytes that leave the scale-up domain, ``(n - k) / n x nbytes``, over the whole call's time
    (CollectiveModel.all_to_all: NCCL latency, NVLink share and network share)."""
    system = catalog.system(system_name)
    comm = CollectiveModel(system)
    span = span_of(ranks, 1, comm.domain)
    seconds = float(comm.all_to_all(float(nbytes), span))
    remote = (span.n - span.k) / span.n * nbytes
    return remote / seconds / GB


def curve(system_name: str = "dgx-h100-superpod") -> list[dict[str, object]]:
    """Published physical rate next to the model's, one entry per published point."""
    out = []
    for source, ranks, per_node, logical in PUBLISHED:
        nodes = ranks // per_node
        measured = physical_gb_per_s(logical, nodes)
        model = model_gb_per_s(system_name, ranks)
        out.append(
            {
                "source": source,
                "ep": ranks,
                "nodes": nodes,
                "logical_gb_per_s": logical,
                "physical_gb_per_s": measured,
                "model_gb_per_s": model,
                "model_over_measured": model / measured,
            }
        )
    return out


def domains_spanned(ep: int, stride: int, domain: int) -> int:
    """Scale-up domains an EP group of ``ep`` ranks, ``stride`` GPUs apart, spans (fabric.collectives.span_of)."""
    per_domain = max(1, min(ep, domain // stride)) if stride < domain else 1
    return math.ceil(ep / per_domain)


def moe_rows() -> list[dict[str, object]]:
    """Every bundled MoE row with EP > 1: its speed error and the domains its EP group spans."""
    _, rows = read_rows("all")
    out = []
    for row in rows:
        if row["metric"] == "activation_gib_per_gpu":
            continue
        model = row_model(row)
        if not model.moe_experts:
            continue
        system, wl, plan = row_system(row), row_workload(row, model), row_plan(row)
        sw = catalog.software(system.software)
        est = resolve(plan, wl, system, sw, system.gpus)
        if est.plan.ep <= 1:
            continue
        res = predict_row(row)
        if res.speed_error_pct is None:
            continue
        out.append(
            {
                "id": row["id"],
                "gpus": system.gpus,
                "ep": est.plan.ep,
                "domains": domains_spanned(est.plan.ep, ep_stride(est.plan, sw), system.domain_gpus),
                "dispatch": sw.ep_dispatch,
                "ep_share": float(est.ep_comm_s) / float(est.step_time_s),
                "speed_error_pct": res.speed_error_pct,
            }
        )
    return out


def by_domains(rows: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Rows grouped by domains spanned (1, 2, 4, 8, >= 16): count, mean signed and mean absolute speed error."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        d = int(r["domains"])  # type: ignore[call-overload]
        key = str(d) if d < 16 else ">=16"
        groups[key].append(float(r["speed_error_pct"]))  # type: ignore[arg-type]
    order = sorted(groups, key=lambda k: 16 if k == ">=16" else int(k))
    return {
        k: {
            "n": len(groups[k]),
            "mean_pct": sum(groups[k]) / len(groups[k]),
            "mape_pct": sum(abs(v) for v in groups[k]) / len(groups[k]),
        }
        for k in order
    }


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results/a2a_scale_diagnosis.json")
    console = Console()
    points = curve()
    table = Table(title="Cross-node all-to-all per GPU, GB/s (published vs model)")
    for col in ("source", "EP", "nodes", "logical", "physical", "model", "ratio"):
        table.add_column(col, justify="left" if col == "source" else "right")
    for p in points:
        table.add_row(
            str(p["source"])[:24],
            str(p["ep"]),
            str(p["nodes"]),
            f"{p['logical_gb_per_s']:.1f}",
            f"{p['physical_gb_per_s']:.1f}",
            f"{p['model_gb_per_s']:.1f}",
            f"{p['model_over_measured']:.2f}",
        )
    console.print(table)
    rows = moe_rows()
    groups = by_domains(rows)
    table = Table(title="MoE rows by EP domains spanned (speed error, + = too fast)")
    for col in ("domains", "rows", "mean %", "MAPE %"):
        table.add_column(col, justify="right")
    for k, g in groups.items():
        table.add_row(k, str(g["n"]), f"{g['mean_pct']:+.1f}", f"{g['mape_pct']:.1f}")
    console.print(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"curve": points, "by_domains": groups, "rows": rows}, indent=1) + "\n")
    console.print(f"wrote {path}")


if __name__ == "__main__":
    guarded(
        main,
        "a2a_scale_diagnosis.py [OUT.json]",
        flags=(),
        valued=(),
        paths=(0, 1),
    )
