"""Which attention backend Transformer Engine runs for GPT-OSS in the Megatron-Bridge performance containers (issue 15).

GPT-OSS's attention (Megatron-Bridge src/megatron/bridge/models/gpt_oss/gpt_oss_provider.py, v0.2.0 and 406d3be):
``softmax_type = "learnable"`` (one learned sink logit per head), ``window_size = (128, 0)`` with
``window_attn_skip_freq = 2`` (every other layer windowed, the rest full causal), ``kv_channels = 64``, 64 query and
8 KV heads, dropout 0; the performance runs train BF16 at sequence 4096 (8192 for the 25.11 GB200/GB300 rows), context
parallel 1, sbhd (no packed sequences). Megatron-Core's TEDotProductAttention hands both to Transformer Engine (TE)
(megatron/core/extensions/transformer_engine.py at 0d8e071 and 3097d81: ``extra_kwargs["window_size"] =
config.window_size`` on window layers, ``extra_kwargs["softmax_type"] = self.config.softmax_type``).

Containers (Megatron-Bridge docs/releases/software-versions.md): "NeMo Framework 25.11 ... Transformer Engine | 2.9
... cuDNN | 9.13.1.26" and "NeMo Framework 26.04 ... Transformer Engine | 2.14+71bbefb ... cuDNN | 9.20.0.48-1" (the
26.04.01 Bridge commit 406d3be pins TE f031cf87, whose backend files are identical to 71bbefb's). Which backend is let
through (TE's own choice: the 25.11 recipe keeps Megatron-Core's ``AttnBackend.auto``, which sets NVTE_FLASH_ATTN,
NVTE_FUSED_ATTN and NVTE_UNFUSED_ATTN all to 1; the 26.04 recipe sets ``cfg.model.attention_backend = None``, which
sets none of them, TE's defaults being 1):

1. FlashAttention is out: transformer_engine/pytorch/attention/dot_product_attention/utils.py get_attention_backend,
   "Filter: Softmax type" (v2.9 and v2.14): ``if softmax_type != "vanilla": ... "Disabling FlashAttention for
   softmax_type = %s"``; its table lists ``no | learnable | FusedAttention, UnfusedDotProductAttention``. The same
   filter drops FusedAttention *and* Unfused for FP8 attention (``fp8_dpa``); the recipes leave
   ``fp8_dot_product_attention: bool = False`` (megatron/bridge/training/mixed_precision.py).
2. Sliding window: ``if use_fused_attention and (window_size[0] != -1 or window_size[1] not in [-1, 0])`` drops
   FusedAttention only for FP8, for ``window_size[1] != 0`` or dropout (v2.9) / dropout (v2.14), or for s_q > s_kv:
   none applies to (128, 0).
3. cuDNN's gate, transformer_engine/common/fused_attn/fused_attn.cpp nvte_get_fused_attn_backend, BF16 branch
   (sub-backend 1, ``NVTE_F16_arbitrary_seqlen``): architecture ``(cudnn_runtime_version >= 90700 && sm_arch_ >= 80)``
   (Blackwell from 9.7); head dim ``head_dim_qk <= 128 && head_dim_v <= 128``, multiples of 8; sliding window "9.2:
   SWA (left, 0) + top-left diagonal + {bshd, sbhd}" (``window_size_left >= 0 ... && window_size_right == 0 &&
   attn_mask_type == NVTE_CAUSAL_MASK ... && dropout == 0.0 && bias_type == NVTE_NO_BIAS``); "9.10.0/9.10.1: known
   bugs with SDPA F16" (``cudnn_runtime_version != 91000 && != 91001``); and the sink rule "pre-9.13.1: vanilla /
   9.13.1+: vanilla, off-by-one, learnable" (``cudnn_runtime_version >= 91301 || softmax_type == VANILLA``). v2.14 adds
   "determinism on Blackwell ... pre-9.18.1: fwd: deterministic; bwd: non-deterministic" (``sm_arch_ < 100 ||
   (is_training && !deterministic && (dropout == 0.0 || bias_type == NVTE_NO_BIAS)) || (is_training &&
   deterministic && cudnn_runtime_version >= 91801 ...)``) and a CUDA-graph bug guard (``cudnn_runtime_version <=
   91500 && is_training && ... max_seqlen_kv % 128 != 0 && cuda_graph``). Sub-backend 1 is also the only one the
   Python side keeps for a window ("only sub-backend %s does not support slidng window attention").
4. Determinism: TE reads ``deterministic = not bool(int(os.getenv("NVTE_ALLOW_NONDETERMINISTIC_ALGO", "1"))) or
   torch.are_deterministic_algorithms_enabled()`` (dot_product_attention.py). v2.9 then drops FusedAttention for any
   deterministic training on Blackwell ("Disabling FusedAttention for determinism reasons on Blackwell"); v2.14 drops
   it for any deterministic sink attention ("Sink attention (off-by-one and learnable softmax) requires
   NVTE_ALLOW_NONDETERMINISTIC_ALGO=1"). The Bridge performance scripts set that variable to 0 only for DeepSeek
   (406d3be scripts/performance/perf_plugins.py: ``if model_family_name in ["deepseek"]:
   executor.env_vars["NVTE_ALLOW_NONDETERMINISTIC_ALGO"] = "0"``; v0.2.0 sets it nowhere), so GPT-OSS runs
   non-deterministic.
5. cuDNN itself: the cudnn-frontend TE builds against (3rdparty/cudnn-frontend v1.15.0 at TE v2.9, v1.21.0 at v2.14)
   refuses a sink only below 9.13 ("SDPA with sink_token is not supported before 9.13.") and has no architecture
   rule for it; its backward adds the sink gradient as a reduction over ``b x h x s_q`` statistics (``dSink =
   reduce(exp(sink - stats) * sum(dO * O))``), not a score-matrix pass.

Verdict: in both containers, on sm90 (H100) and on sm100/sm103 (B200/GB200, B300/GB300) alike, every GPT-OSS layer
(the 128-token window ones and the full causal ones) trains on cuDNN's fused attention, sub-backend 1
(F16_arbitrary_seqlen): no FlashAttention fallback, no materialised (Unfused) scores. The step model prices these
rows' attention as the fused kernel (perf.attention_backend.effective keeps ``attention_kernel = "flash"`` with no
FlashAttention-2 substitution), which agrees. The backend choice is not what leaves GPT-OSS +14..+53% too fast on
Blackwell; the 25.11 container (cuDNN 9.13.1.26) sits exactly at the first cuDNN that takes sinks, so a container
one cuDNN release older would have run Unfused on every card (:func:`select` with ``cudnn=91300``).

Run (bounded: the Megatron-Bridge GPT-OSS rows, two layer kinds each, no pricing beyond one backend lookup):

    PYTHONPATH=src python scripts/gptoss_attention_backend.py [--json] [--no-color]
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass, field

from rich.table import Table
from script_args import emit, parse, run

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import attention_backend
from supercluster.perf.attention_class import HOPPER_SM_ARCH
from supercluster.validate.harness import read_rows

FUSED = "fused-1"  # cuDNN FusedAttention, sub-backend 1 (NVTE_F16_arbitrary_seqlen)
FLASH = "flash"  # flash-attn 2/3
UNFUSED = "unfused"  # UnfusedDotProductAttention: materialised scores
NONE = "none"  # no backend: TE raises

# The thresholds of TE's conditions as its source writes them (module docstring, items 1-4): compute capabilities
# x 10, cuDNN versions as cudnnGetVersion() returns them (major * 10000 + minor * 100 + patch)
AMPERE_SM_ARCH = 80  # sm_arch_ >= 80: the fused path's oldest card
BLACKWELL_SM_ARCH = 100  # sm_arch_ < 100 / >= 100: the Blackwell-only determinism rules
CUDNN_PRE_BLACKWELL = 8903  # 8.9.3: sub-backend 1 on sm80-sm9x
CUDNN_BLACKWELL = 90700  # 9.7.0: sub-backend 1 on every card from sm80, Blackwell included
CUDNN_SLIDING_WINDOW = 90200  # 9.2.0: "SWA (left, 0) + top-left diagonal + {bshd, sbhd}"
CUDNN_SDPA_F16_BUGS = (91000, 91001)  # "9.10.0/9.10.1: known bugs with SDPA F16"
CUDNN_SINKS = 91301  # 9.13.1: "vanilla, off-by-one, learnable"
CUDNN_GRAPH_BUG_LAST = 91500  # 9.15.0: the last cuDNN with the CUDA-graph guard (v2.14)
CUDNN_THD_SINKS = 91800  # 9.18.0: sinks with the packed (thd) format (v2.14)
CUDNN_DETERMINISTIC_BLACKWELL = 91801  # 9.18.1: a deterministic backward on Blackwell (v2.14)
HEAD_DIM_MAX = 128  # head_dim_qk <= 128 && head_dim_v <= 128
HEAD_DIM_MULTIPLE = 8  # head dims in multiples of 8
GRAPH_SEQ_MULTIPLE = 128  # the CUDA-graph guard: max_seqlen_kv % 128 != 0
TE_2_14 = (2, 14)  # the Transformer Engine release whose added and changed rules items 3-4 quote


@dataclass(frozen=True)
class Container:
    """A NeMo container's attention stack (Megatron-Bridge docs/releases/software-versions.md)."""

    name: str
    te: tuple[int, int]  # Transformer Engine major, minor
    cudnn: int  # cudnnGetVersion(): major * 10000 + minor * 100 + patch
    deterministic: bool  # NVTE_ALLOW_NONDETERMINISTIC_ALGO = 0 in the recipe's environment


# "NeMo Framework 25.11 | Transformer Engine | 2.9 | cuDNN | 9.13.1.26"; "NeMo Framework 26.04 | Transformer Engine |
# 2.14+71bbefb | cuDNN | 9.20.0.48-1" (26.04.01 is the 26.04 stack: Bridge 406d3be pins TE f031cf87, after 71bbefb
# in the v2.14 line; the archive's 26.04 rows run the same 26.04 stack). Neither recipe sets
# NVTE_ALLOW_NONDETERMINISTIC_ALGO for GPT-OSS (module docstring, item 4).
CONTAINERS = {
    "25.11": Container("25.11", (2, 9), 91301, False),
    "26.04": Container("26.04", (2, 14), 92000, False),
    "26.04.01": Container("26.04.01", (2, 14), 92000, False),
}


@dataclass(frozen=True)
class Attn:
    """One attention layer as TE's backend selection sees it (GPT-OSS defaults: module docstring)."""

    sm_arch: int
    softmax: str = "learnable"
    window_left: int = -1  # -1: full causal; >= 0: sliding window (left, 0)
    window_right: int = 0
    head_dim: int = 64
    seq: int = 4096
    fp8_dpa: bool = False
    context_parallel: bool = False
    cp_comm_type: str = "p2p"
    qkv_format: str = "sbhd"
    dropout: float = 0.0
    cuda_graph: bool = False
    flash_installed: bool = True


@dataclass(frozen=True)
class Choice:
    backend: str
    reasons: tuple[str, ...] = field(default_factory=tuple)


def cudnn_f16_gate(c: Container, a: Attn) -> bool:
    """nvte_get_fused_attn_backend's BF16 arbitrary-sequence-length clauses that concern this layer (module
    docstring, item 3): True when cuDNN sub-backend 1 takes it."""
    arch = (AMPERE_SM_ARCH <= a.sm_arch < BLACKWELL_SM_ARCH and c.cudnn >= CUDNN_PRE_BLACKWELL) or (
        a.sm_arch >= AMPERE_SM_ARCH and c.cudnn >= CUDNN_BLACKWELL
    )
    head = a.head_dim % HEAD_DIM_MULTIPLE == 0 and a.head_dim <= HEAD_DIM_MAX
    causal_window = a.window_left == -1 or (
        c.cudnn >= CUDNN_SLIDING_WINDOW
        and a.window_right == 0
        and a.dropout == 0.0
        and a.qkv_format in ("bshd", "sbhd")
    )
    known_bug = c.cudnn in CUDNN_SDPA_F16_BUGS
    sink_ok = c.cudnn >= CUDNN_SINKS or a.softmax == "vanilla"
    ok = arch and head and causal_window and not known_bug and sink_ok
    if c.te >= TE_2_14:
        blackwell_ok = (
            a.sm_arch < BLACKWELL_SM_ARCH
            or not c.deterministic
            or (c.cudnn >= CUDNN_DETERMINISTIC_BLACKWELL and a.dropout == 0.0)
        )
        graph_bug = (
            c.cudnn <= CUDNN_GRAPH_BUG_LAST
            and a.qkv_format in ("bshd", "sbhd")
            and a.seq % GRAPH_SEQ_MULTIPLE != 0
            and a.cuda_graph
        )
        ok = ok and blackwell_ok and not graph_bug
    return ok


def select(c: Container, a: Attn) -> Choice:
    """The backend TE's get_attention_backend picks for one training layer (module docstring, items 1-4)."""
    flash = a.flash_installed
    fused = unfused = True
    why: list[str] = []
    if a.softmax != "vanilla":
        flash = False
        why.append("flash off: softmax_type")
        if a.fp8_dpa:
            fused = unfused = False
            why.append("fused+unfused off: sink in FP8")
        if a.qkv_format == "thd" and (c.te < TE_2_14 or c.cudnn < CUDNN_THD_SINKS):
            fused = False
            why.append("fused off: sink with thd")
            if c.te < TE_2_14:
                unfused = False
        if a.context_parallel and a.cp_comm_type != "a2a":
            fused = False
            why.append("fused off: sink with CP not a2a")
    if a.context_parallel:
        unfused = False  # "Disabling UnfusedDotProductAttention as it does not support context parallelism"
    windowed = a.window_left != -1 or a.window_right not in (-1, 0)
    if fused and windowed and (a.fp8_dpa or a.dropout != 0.0 or (c.te < TE_2_14 and a.window_right != 0)):
        fused = False
        why.append("fused off: window")
    if fused and not cudnn_f16_gate(c, a):
        fused = False
        why.append("fused off: cuDNN gate")
    if fused and c.deterministic:
        if c.te >= TE_2_14 and a.softmax != "vanilla":
            fused = False
            why.append("fused off: deterministic sink")
        if c.te < TE_2_14 and a.sm_arch >= BLACKWELL_SM_ARCH:
            fused = False
            why.append("fused off: deterministic on Blackwell")
    if flash and fused and a.sm_arch >= HOPPER_SM_ARCH:
        flash = False  # "Disabling FlashAttention to give FusedAttention preference on Hopper+"
    if flash:
        return Choice(FLASH, tuple(why))
    if fused:
        return Choice(FUSED, tuple(why))
    if unfused:
        return Choice(UNFUSED, tuple(why))
    return Choice(NONE, tuple(why))


@dataclass(frozen=True)
class RowBackend:
    row_id: str
    gpu: str
    sm_arch: int
    container: str
    te: str
    cudnn: int
    window_layers: str  # TE's backend for the (128, 0) window layers
    full_layers: str  # for the full causal layers
    model_kernel: str  # the step model's attention kernel for the row (perf.attention_backend.effective)
    model_fa2: bool  # whether the step model prices FlashAttention-2 (perf.wide_heads)


def container_of(row: dict) -> Container:
    """The NeMo container a Megatron-Bridge row names in its source ("25.11 NeMo container")."""
    m = re.search(r"(\d\d\.\d\d(?:\.\d\d)?) NeMo container", row.get("source") or "")
    if m is None or m.group(1) not in CONTAINERS:
        raise SuperclusterError(
            f"row {row.get('id')}: no known NeMo container in its source; valid: {', '.join(sorted(CONTAINERS))}"
        )
    return CONTAINERS[m.group(1)]


def _container_name(row: dict) -> str | None:
    m = re.search(r"(\d\d\.\d\d(?:\.\d\d)?) NeMo container", row.get("source") or "")
    return None if m is None else m.group(1)


def bridge_rows(rows: list[dict]) -> list[dict]:
    """The bundled Megatron-Bridge GPT-OSS throughput rows of the containers whose attention stack is read here
    (CONTAINERS; the archive's 26.02 and 26.02.01 rows are left out until their TE and cuDNN are quoted)."""
    return [
        r
        for r in rows
        if (r.get("model") or "").strip().startswith("gpt-oss")
        and "Megatron-Bridge" in (r.get("source") or "")
        and r.get("metric") == "tokens_per_s_per_gpu"
        and _container_name(r) in CONTAINERS
    ]


def row_backend(row: dict) -> RowBackend:
    """TE's choice for both layer kinds of the row (with and without CUDA-graph capture: they must agree) and the
    step model's kernel for the same row."""
    c = container_of(row)
    acc = catalog.accelerator(row["gpu"].strip())
    model = catalog.model(row["model"].strip())
    sw = catalog.software(row["software"].strip())
    if acc.sm_arch is None:
        raise SuperclusterError(f"row {row['id']}: card {row['gpu']} has no sm_arch; valid: a card with one")
    seq = int(row["seq_len"])
    if model.sliding_window is None:
        raise SuperclusterError(f"row {row['id']}: model {model.name} has no sliding_window; valid: a GPT-OSS model")
    picks = {}
    for kind, left in (("window", model.sliding_window), ("full", -1)):
        both = {
            select(c, Attn(acc.sm_arch, window_left=left, head_dim=model.qk_dim, seq=seq, cuda_graph=g)).backend
            for g in (False, True)
        }
        if len(both) != 1:
            raise SuperclusterError(f"row {row['id']}: backend depends on CUDA-graph capture ({sorted(both)})")
        picks[kind] = both.pop()
    eff = attention_backend.effective(sw, acc, model)
    return RowBackend(
        row_id=row["id"],
        gpu=row["gpu"].strip(),
        sm_arch=acc.sm_arch,
        container=c.name,
        te=f"{c.te[0]}.{c.te[1]}",
        cudnn=c.cudnn,
        window_layers=picks["window"],
        full_layers=picks["full"],
        model_kernel=eff.attention_kernel,
        model_fa2=eff.attention_fa2_relative is not None,
    )


def render(results: list[RowBackend]) -> Table:
    table = Table(title="GPT-OSS attention backend (Transformer Engine)")
    for col in ("row", "sm", "TE", "cuDNN", "window", "full", "model"):
        table.add_column(col, no_wrap=True)
    for r in results:
        short = r.row_id.replace("-gpt-oss-120b-64-bf16", "").removeprefix("mb")
        table.add_row(
            short,
            str(r.sm_arch),
            r.te,
            f"{r.cudnn // 10000}.{r.cudnn // 100 % 100}.{r.cudnn % 100}",
            r.window_layers,
            r.full_layers,
            r.model_kernel + (" fa2" if r.model_fa2 else ""),
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv)
    _, rows = read_rows("all")
    results = [row_backend(r) for r in bridge_rows(rows)]
    legend = (
        "window/full: TE's backend for the 128-token window layers and the full causal layers (fused-1: cuDNN "
        "sub-backend 1; flash; unfused: materialised scores); model: the step model's kernel"
    )
    emit(args, {"rows": [asdict(r) for r in results]}, [render(results), legend])


if __name__ == "__main__":
    run(main, sys.argv[1:])
