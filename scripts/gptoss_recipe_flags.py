"""GPT-OSS 120B on Megatron-Bridge: what the perf recipes set per card and container, and the one setting that
explained a row (issue 15, angles A and B).

Angle A compares every setting the Megatron-Bridge perf scripts give GPT-OSS 120B on H100 and on Blackwell, in the
25.11 container (Megatron-Bridge v0.2.0, commit 7af9601) and the 26.04.01 container (commit 406d3be), read with
``git show <commit>:<path>`` in the NVIDIA-NeMo/Megatron-Bridge mirror. Each entry of :data:`FLAGS` quotes the
setting, names the file and commit, and says whether it separates the Blackwell rows (+14..+34% too fast) from the
H100 rows (+8..+9%) and how the step model treats it.

The finding: the 25.11 release config runs B200 at expert parallelism 64 ("GPT_OSS_120B_B200_BF16_BASE_CONFIG =
replace(BASE_GPT_OSS_120B_CONFIG, expert_model_parallel_size=64, micro_batch_size=4, ...)"), eight DGX-B200 nodes
of 8 GPUs, so 7/8 of each token's all-to-all leaves the node over InfiniBand, while the 25.11 table's EP cell reads
8. The archive's own A/B on the same card settles which layout the 8213 tokens/s/GPU belongs to: 26.02 B200 at EP 64
reads 8047, 26.02.01 B200 at EP 8 reads 13722 (both GBS 1280, MBS 4, sequence 4096). :func:`ep_ab` prices the
26.04.01 B200 row at EP 8 and EP 64 and compares the model's ratio with that measured one; :func:`row_at_ep` prices
the 25.11 B200 row at both. The row now carries EP 64 (validate/data/moe_runs.csv, its note quotes both sources).

Angle B (memory pressure): the model's 0.98-of-HBM for the 25.11 B200 row came from EP 8 (14.3 B expert parameters
per GPU); at EP 64 it reads 0.72. The recipes set no PYTORCH_CUDA_ALLOC_CONF for GPT-OSS at either commit (perf_plugins
sets expandable segments for Llama 3.1 405B, DeepSeek-V3, Qwen3-Next and Llama 3 70B SFT only), no CPU offload, and
manual GC every 100 steps on every card. Over the 90 Megatron-Bridge rows (scripts/residual_features.py
megatron-bridge) the error does not follow the model's memory fraction (slope -0.9 points per unit fraction): the
rows the model puts at 0.85 of HBM or more read -14..+8% except 26.04.01 B200 GPT-OSS (+29): no cited,
quantified near-HBM cost was found, so none is priced.

Run (bounded: the settings table and four estimates, a few seconds):

    PYTHONPATH=src python scripts/gptoss_recipe_flags.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from rich.table import Table
from script_args import emit, parse, run

from supercluster.errors import SuperclusterError
from supercluster.validate import harness
from supercluster.validate.harness import read_rows

V020 = "7af9601"  # Megatron-Bridge v0.2.0: the 25.11 NeMo container
R2604 = "406d3be"  # Megatron-Bridge 26.04-alpha: the 26.04.01 NeMo container
ARCHIVE = (
    "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/09ce5f13c41d3fb00f1a1247e7d62df234b8818b/"
    "docs/performance-summary-archive.md"
)
ROW_2511_B200 = "mb2511-b200-gpt-oss-120b-64-bf16"
ROW_260401_B200 = "mb260401-b200-gpt-oss-120b-64-bf16"


@dataclass(frozen=True)
class RecipeFlag:
    """One setting of the GPT-OSS 120B perf recipe: where it is set, on which cards, and what it means here."""

    container: str
    commit: str
    path: str
    cards: str
    setting: str
    quote: str
    verdict: str


CFG_2511 = "scripts/performance/configs/gpt_oss/workload_base_configs.py"
CFG_2604 = "scripts/performance/configs/gpt_oss/gpt_oss_workload_base_configs.py"

FLAGS: tuple[RecipeFlag, ...] = (
    RecipeFlag(
        "25.11",
        V020,
        CFG_2511,
        "b200",
        "expert_model_parallel_size=64",
        "GPT_OSS_120B_B200_BF16_BASE_CONFIG = replace(BASE_GPT_OSS_120B_CONFIG, expert_model_parallel_size=64, "
        "micro_batch_size=4, recompute_modules=[...])",
        "separates: the table cell reads EP 8; at EP 64 the 25.11 B200 row reads +9% (as the H100 rows), at EP 8 "
        "+90%; row corrected",
    ),
    RecipeFlag(
        "25.11",
        V020,
        CFG_2511,
        "gb300",
        "cuda_graph_impl / cuda_graph_scope",
        'cuda_graph_impl="transformer_engine", cuda_graph_scope=["attn", "moe_router", "moe_preprocess"]',
        "does not separate: GB300 (graphs) reads +14, GB200 (no graphs) +15",
    ),
    RecipeFlag(
        "26.04.01",
        R2604,
        CFG_2604,
        "gb300, b300",
        "cuda_graph_impl / cuda_graph_scope",
        'GPT_OSS_120B_PRETRAIN_CONFIG_B300_BF16_V1 = replace(..., cuda_graph_impl="transformer_engine", '
        'cuda_graph_scope=["attn", "moe_router", "moe_preprocess"])',
        "does not separate: with graphs GB300 +17, B300 +34; without GB200 +32, B200 +29",
    ),
    RecipeFlag(
        "26.04.01",
        R2604,
        CFG_2604,
        "b200, b300 (ep 8); gb200 (ep 64)",
        "moe_flex_dispatcher_backend / moe_a2a_overlap",
        'V2: B200/B300 expert_model_parallel_size=8, moe_flex_dispatcher_backend="hybridep"; GB200 '
        'moe_flex_dispatcher_backend="hybridep", moe_a2a_overlap=True',
        "priced per row through the software profiles (megatron-bridge-deepep-2025, -hybridep-overlap-2025); "
        "GB300 (plain alltoall) reads the smallest error, so the dispatcher is not the missing term",
    ),
    RecipeFlag(
        "both",
        f"{V020}, {R2604}",
        "scripts/performance/configs/gpt_oss/gpt_oss_llm_pretrain.py",
        "all",
        "moe_router_fusion, grad_reduce_in_fp32, force load balancing",
        "cfg.mixed_precision.grad_reduce_in_fp32 = False; cfg.ddp.grad_reduce_in_fp32 = False; "
        "cfg.model.moe_router_fusion = True; cfg.model.moe_router_force_load_balancing = True",
        "common to H100 and Blackwell (set_gpt_oss_common_configs): not a separator",
    ),
    RecipeFlag(
        "both",
        f"{V020}, {R2604}",
        "scripts/performance/utils/helpers.py (25.11), utils/overrides.py (26.04.01)",
        "all",
        "apply_rope_fusion, cross_entropy_fusion_impl",
        'recipe.model.apply_rope_fusion = True; recipe.model.cross_entropy_fusion_impl = "te"',
        "common to every card (set_common_perf_overrides): not a separator",
    ),
    RecipeFlag(
        "both",
        f"{V020}, {R2604}",
        "scripts/performance/perf_plugins.py",
        "sm100: b200, gb200, gb300 (+ b300 at 26.04.01); h100",
        "CUDA_DEVICE_MAX_CONNECTIONS",
        "cuda_device_max_connections = 8 ... if gpu_sm100_or_newer: ... cuda_device_max_connections = 32",
        "differs (32 on Blackwell, 8 on H100 at tp 1, cp 1) but only widens stream concurrency; no cited cost",
    ),
    RecipeFlag(
        "both",
        f"{V020}, {R2604}",
        "scripts/performance/perf_plugins.py",
        "all",
        "NVTE_FWD/BWD_LAYERNORM_SM_MARGIN",
        'layernorm_sm_margin = 20 if moe_flex_dispatcher_backend in ["deepep", "hybridep"] else 16',
        "keyed to the dispatcher, not the card: not a separator",
    ),
    RecipeFlag(
        "both",
        f"{V020}, {R2604}",
        "scripts/performance/perf_plugins.py",
        "none for gpt_oss",
        "PYTORCH_CUDA_ALLOC_CONF",
        'executor.env_vars["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True" (llama31_405b, deepseek_v3, '
        "qwen3_next_80b_a3b, llama3_70b sft only)",
        "GPT-OSS runs the default caching allocator on every card: no allocator difference to price",
    ),
    RecipeFlag(
        "both",
        f"{V020}, {R2604}",
        "src/megatron/bridge/recipes/gpt_oss/gpt_oss.py",
        "all",
        "manual_gc, manual_gc_interval",
        "manual_gc=True, manual_gc_interval=100 (25.11); cfg.train.manual_gc = True; "
        "cfg.train.manual_gc_interval = 100 (26.04.01)",
        "common to every card: not a separator",
    ),
)

# The archive's B200 A/B at GBS 1280, MBS 4, sequence 4096 (ARCHIVE, the 26.02 and 26.02.01 sections):
# "| DGX-B200 | 64 | BF16 | 1280 | 4 | 4096 | 0 | 1 | 1 | 1 | n/a | 64 | 8047 | 219 |" (26.02, EP 64) and
# "| DGX-B200 | 64 | BF16 | 1280 | 4 | 4096 | 0 | 1 | 1 | 1 | n/a | 8 | 13722 | 373 |" (26.02.01, EP 8).
B200_EP64_TOKENS_PER_S_PER_GPU = 8047.0
B200_EP8_TOKENS_PER_S_PER_GPU = 13722.0


@dataclass(frozen=True)
class AtEp:
    """One row priced at a given expert-parallel size: prediction, speed error (+ = too fast), memory fraction."""

    row_id: str
    ep: int
    predicted: float
    measured: float
    speed_error_pct: float
    memory_fraction: float


@dataclass(frozen=True)
class EpAB:
    """The model's EP 8 / EP 64 throughput ratio on DGX-B200 against the archive's measured one."""

    model_ep8: float
    model_ep64: float
    model_ratio: float
    measured_ratio: float


def _row(row_id: str) -> dict[str, str]:
    _, rows = read_rows("all")
    hits = [r for r in rows if r.get("id") == row_id]
    if not hits:
        raise SuperclusterError(f"no bundled row '{row_id}'; valid: {ROW_2511_B200}, {ROW_260401_B200}")
    return hits[0]


def row_at_ep(row_id: str, ep: int) -> AtEp:
    """``row_id`` priced as ``validate`` prices it, with its EP column set to ``ep``."""
    row = {**_row(row_id), "ep": str(ep)}
    res = harness.predict_row(row)
    if res.predicted is None or res.speed_error_pct is None or res.measured is None:
        raise SuperclusterError(f"row '{row_id}' at ep {ep} cannot be priced: {res.reason}")
    _, est = harness.measured_estimate(row)
    mem = est.memory
    return AtEp(row_id, ep, res.predicted, res.measured, res.speed_error_pct, mem.total_bytes / mem.capacity_bytes)


def ep_ab() -> EpAB:
    """The 26.04.01 B200 GPT-OSS row (GBS 1280, MBS 4, sequence 4096, as the archive's A/B) at EP 8 and EP 64."""
    ep8 = row_at_ep(ROW_260401_B200, 8).predicted
    ep64 = row_at_ep(ROW_260401_B200, 64).predicted
    return EpAB(ep8, ep64, ep8 / ep64, B200_EP8_TOKENS_PER_S_PER_GPU / B200_EP64_TOKENS_PER_S_PER_GPU)


def render_flags() -> Table:
    table = Table(title="GPT-OSS 120B perf recipe: settings by card")
    for col in ("ctr", "cards", "setting", "verdict"):
        table.add_column(col, overflow="fold")
    for f in FLAGS:
        table.add_row(f.container, f.cards, f.setting, f.verdict)
    return table


def render_ep(rows: list[AtEp], ab: EpAB) -> Table:
    table = Table(title="DGX-B200 GPT-OSS at EP 8 and EP 64")
    for col in ("row", "ep", "model", "measured", "err%", "mem"):
        table.add_column(col, justify="right" if col != "row" else "left", no_wrap=True)
    for r in rows:
        short = r.row_id.removeprefix("mb").replace("-gpt-oss-120b-64-bf16", "")
        table.add_row(
            short, str(r.ep), f"{r.predicted:,.0f}", f"{r.measured:,.0f}", f"{r.speed_error_pct:+.1f}",
            f"{r.memory_fraction:.2f}",
        )  # fmt: skip
    table.caption = (
        f"EP 8 / EP 64 throughput: model {ab.model_ratio:.2f}, measured {ab.measured_ratio:.2f} "
        "(archive 26.02.01 / 26.02)"
    )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    at = [row_at_ep(rid, ep) for rid in (ROW_2511_B200, ROW_260401_B200) for ep in (8, 64)]
    ab = ep_ab()
    doc = {"flags": [asdict(f) for f in FLAGS], "b200_at_ep": [asdict(a) for a in at], "ep_ab": asdict(ab)}
    emit(args, doc, [render_flags(), render_ep(at, ab)])


if __name__ == "__main__":
    run(main, sys.argv[1:])
