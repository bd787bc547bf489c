"""Kernel and framework efficiency by software release (issue 14 item 3): every pair of rows that runs the same model
on the same card, cluster size and layout in two releases of one NVIDIA stack, with the measured speed ratio
(later release over earlier) against the model's.

Releases are read from the source tables' titles:

- ``nemo``: the NeMo container a table was measured in, whether the NeMo Framework performance summary ("NeMo 25.02")
  or the Megatron-Bridge performance summaries that followed it ("25.11 NeMo container"): one container line, since
  Megatron-Bridge ships inside the NeMo container (its performance-summary tables name the container, not a
  Megatron-Bridge version);
- ``dgxc``: the DGX Cloud Benchmarking recipes' tag ("dgxc-benchmarking v25.02"), a recipe release that pins its own
  container (a line of its own: the tag is not a container number).

A pair is two rows of one stack line with the same card, the same ``refit_fp8.LAYOUT_KEYS`` (GPUs, model, tp, pp, vpp,
cp, ep, dp, micro and global batch, sequence) and the same metric, in different releases. ``kind`` says whether
the precision column is the same ("same-recipe") or changed with the release ("recipe-change": FP8 per-tensor current
scaling in one summary, MXFP8 in the next, which the model prices; only between 8-bit recipes and only where neither
release also ran the other's recipe at that layout). Speed is throughput, or 1 / step time.
``ratio_error_pct`` = model ratio / measured ratio - 1: negative = the later release runs faster than the model's
profiles say (a release-to-release gain the model misses), positive = the model credits the later release with a
gain it did not show (or the later release regressed).

Release notes of the containers behind the pairs (what each release says it changed for speed, quoted in
:data:`RELEASE_NOTES`) are printed under the table, so a pair's gap can be read against them.

Verdict on the bundled set (2026-12-01, main 4f788fb plus perf.fused_grouped_mlp), 153 pairs:

- The step model has no release term: a pair priced with one stack profile has model ratio 1.000, so its measured
  ratio is the release-to-release change the model misses. Dense, same recipe file: NeMo 24.07 > 25.02 (GPT-3 175B,
  512 H100, FP8) measures 1.107; Megatron-Bridge 26.02 > 26.04.01 (Llama 3 70B and 3.1 405B on H100, GB200, GB300)
  1.050 over 6 pairs (1.027-1.090) and 26.02 > 26.06 1.057 over 3, with Llama 3.1 405B's perf config unchanged
  between Megatron-Bridge v0.3.0 and v0.4.1 (git diff of llama31_workload_base_configs.py is empty): the gain is the
  container's libraries (Megatron-Core 0.16 > 0.17, TE 2.12 > 2.14 "multiple CPU overhead optimizations", CUDA 13.0.2
  > 13.1.1, cuDNN 9.18 > 9.20), none of which states a number, so none is priced. 25.09 > 25.11 dense reads 0.995
  over 5 pairs although Megatron-Core 0.15 states "10-14% E2E" for fused QKV preprocessing: pricing that would put
  those pairs 10-15 points too fast. DGX Cloud recipes: v24.11.1 > v25.02 1.014 (50 dense pairs), v25.02 > v25.04
  1.024 (16), model 1.000 throughout.
- The spread of one release step is about 5 points: the bug-fix step 26.02 > 26.02.01 reads 1.011-1.078 and
  26.02.01 > 26.04 0.951-1.029 on the same configs, so a single pair within 5% is not evidence of a release effect.
- MoE: 25.11 > 26.04.01 (GB200 Qwen3-30B-A3B MXFP8, one DeepEP profile) 1.099 against 1.000 (TE 2.13's MXFP8 grouped
  quantization and 2.14's host-overhead cuts are candidates, unpriced). 25.09 > 25.11 pairs change recipe with the
  release (token-drop to dropless, FP8-CS to MXFP8): 0.776 measured against 0.733, the H100 Qwen3-30B-A3B pair
  0.503 against 0.924 (Megatron-Bridge issue #1998, quoted in that row's notes, calls it a dropless regression).
- Priced: TE 2.14's fused MXFP8 GEMM + SwiGLU grouped MLP, which the 26.06 DeepSeek-V3 GB300 recipes switch on
  (perf.fused_grouped_mlp, software megatron-bridge-fullgraph-2026): their error -23.2/-23.7% > -21.5/-22.1%, all
  rows 7.621% > 7.616% (leave-one-source-out column 7.779% > 7.775%), MXFP8 MoE 10.73% > 10.60%, nothing else moves.
  Those two rows have no earlier pair (26.04.01 ran micro-batch 2), so the fusion does not show in this table.

Run (bounded: one estimate per paired row, under 200 rows, some seconds):

    PYTHONPATH=src:scripts python scripts/container_pairs.py [--json] [--no-color] [OUT.json]
"""

from __future__ import annotations

import math
import re
import statistics
import sys
from dataclasses import asdict, dataclass

from refit_fp8 import LAYOUT_KEYS
from rich import box
from rich.table import Table
from script_args import emit, parse, run

from supercluster import catalog
from supercluster.validate.harness import predict_row, read_rows, row_software

# "..., 25.11 NeMo container, ..." (Megatron-Bridge summaries), "... NeMo 25.02, DGX-B200 ..." (NeMo summaries),
# "... (NeMo 24.07)" (the NeMo repository's performance_summary.md)
_BRIDGE = re.compile(r"(\d\d\.\d\d(?:\.\d\d)?) NeMo container")
_NEMO = re.compile(r"\bNeMo (\d\d\.\d\d(?:\.\d\d)?)\b")
_DGXC = re.compile(r"dgxc-benchmarking v(\d\d\.\d\d(?:\.\d\d?)?)")
EIGHT_BIT = ("fp8", "mxfp8", "nvfp4")
SPEED_METRICS = ("tokens_per_s_per_gpu", "tflops_per_gpu", "mfu", "step_time_s")


@dataclass(frozen=True)
class Release:
    """A row's stack line and release: ("nemo", "25.11") or ("dgxc", "25.02")."""

    line: str
    version: str

    @property
    def order(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.version.split("."))

    def __str__(self) -> str:
        return f"{self.line} {self.version}"


@dataclass(frozen=True)
class ReleasePair:
    """Two rows of one card, model and layout in two releases: speed of the later over the earlier."""

    first_id: str
    second_id: str
    line: str
    first_release: str
    second_release: str
    gpu: str
    gpus: int
    model: str
    family: str  # "dense" or "moe"
    precision: str  # "fp8" or "fp8 > mxfp8"
    kind: str  # "same-recipe" or "recipe-change"
    first_software: str
    second_software: str
    measured_ratio: float
    model_ratio: float
    ratio_error_pct: float  # (model / measured - 1) x 100: - = the later release faster than the model says


def release(row: dict) -> Release | None:
    """The stack line and release a row's source table names, or None when it names none."""
    src = row.get("source") or ""
    if "dgxc-benchmarking" in src:
        m = _DGXC.search(src)
        return Release("dgxc", m.group(1)) if m else None
    if "AutoModel" in src:  # a different stack (PyTorch-native), no container in its title
        return None
    m = _BRIDGE.search(src) or _NEMO.search(src)
    return Release("nemo", m.group(1)) if m else None


def _prec(row: dict) -> str:
    return (row.get("precision") or "bf16").strip().lower()


def _layout(row: dict) -> tuple:
    return (row["gpu"].strip(), row["metric"].strip(), *(str(row.get(k) or "").strip() for k in LAYOUT_KEYS))


def _is_moe(row: dict) -> bool:
    experts = (row.get("moe_experts") or "").strip()
    if experts:
        return experts != "0"
    name = (row.get("model") or "").strip()
    return name in catalog.names("models") and catalog.model(name).is_moe


def pairs(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(earlier, later) rows of one stack line, card, metric and layout in two different releases. Where a release
    holds the same layout twice (two tables of one summary), each of its rows pairs with the other release's."""
    keyed: dict[tuple, list[tuple[Release, dict]]] = {}
    for r in rows:
        rel = release(r)
        if rel is None or r.get("metric") not in SPEED_METRICS:
            continue
        keyed.setdefault((rel.line, *_layout(r)), []).append((rel, r))
    out = []
    for group in keyed.values():
        group.sort(key=lambda t: t[0].order)
        for i, (ra, a) in enumerate(group):
            for rb, b in group[i + 1 :]:
                if rb.order == ra.order:
                    continue
                pa, pb = _prec(a), _prec(b)
                if pa == pb:
                    out.append((a, b))
                elif pa in EIGHT_BIT and pb in EIGHT_BIT and not _holds(group, ra, pb) and not _holds(group, rb, pa):
                    out.append((a, b))  # the 8-bit recipe changed with the release (FP8-CS then MXFP8)
    return sorted(out, key=lambda p: (p[0]["gpu"], p[0]["model"], p[0]["id"], p[1]["id"]))


def _holds(group: list[tuple[Release, dict]], rel: Release, precision: str) -> bool:
    return any(r.order == rel.order and _prec(row) == precision for r, row in group)


def _speed(value: float, metric: str) -> float:
    return 1.0 / value if metric == "step_time_s" else value


def pair_ratio(first: dict, second: dict) -> ReleasePair | None:
    """The pair's measured and predicted speed ratios, or None when the harness cannot price either row."""
    p1, p2 = predict_row(first), predict_row(second)
    if p1.predicted is None or p2.predicted is None:
        return None
    metric = first["metric"].strip()
    measured = _speed(float(second["value"]), metric) / _speed(float(first["value"]), metric)
    model = _speed(p2.predicted, metric) / _speed(p1.predicted, metric)
    pa, pb = _prec(first), _prec(second)
    return ReleasePair(
        first_id=first["id"],
        second_id=second["id"],
        line=release(first).line,
        first_release=release(first).version,
        second_release=release(second).version,
        gpu=first["gpu"].strip(),
        gpus=int(float(first["gpus"])),
        model=first["model"].strip(),
        family="moe" if _is_moe(first) else "dense",
        precision=pa if pa == pb else f"{pa} > {pb}",
        kind="same-recipe" if pa == pb else "recipe-change",
        first_software=p1.software or row_software(first)[0],
        second_software=p2.software or row_software(second)[0],
        measured_ratio=measured,
        model_ratio=model,
        ratio_error_pct=(model / measured - 1.0) * 100.0,
    )


def _geo(values: list[float]) -> float:
    return math.exp(statistics.mean(math.log(v) for v in values))


def summary(results: list[ReleasePair]) -> dict:
    """Per release step (line, earlier > later) and family: pairs, geometric-mean measured and model ratios, the
    mean ratio error and how many pairs the model misses by more than 5 points either way."""
    groups: dict[str, list[ReleasePair]] = {}
    for p in results:
        step = f"{p.line} {p.first_release} > {p.second_release}"
        groups.setdefault(f"{step} {p.family}", []).append(p)
        groups.setdefault(f"all {p.family}", []).append(p)
        groups.setdefault(f"all {p.kind}", []).append(p)
    return {
        k: {
            "pairs": len(v),
            "measured_ratio": round(_geo([p.measured_ratio for p in v]), 4),
            "model_ratio": round(_geo([p.model_ratio for p in v]), 4),
            "mean_ratio_error_pct": round(statistics.mean(p.ratio_error_pct for p in v), 2),
            "missed_gain": sum(p.ratio_error_pct < -5.0 for p in v),
            "missed_loss": sum(p.ratio_error_pct > 5.0 for p in v),
        }
        for k, v in sorted(groups.items())
    }


def _short_gpu(gpu: str) -> str:
    return gpu.removesuffix("-sxm-80gb").removesuffix("-sxm")


def _short_model(name: str) -> str:
    return name.removeprefix("qwen3-").removeprefix("deepseek-").replace("llama3.1-", "llama3-")[:11]


def render_pairs(results: list[ReleasePair]) -> Table:
    table = Table(
        title="Same card, model and layout in two releases: later / earlier speed",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for col in ("releases", "card", "gpus", "model", "prec"):
        table.add_column(col, no_wrap=True)
    for col in ("meas", "model", "err%"):
        table.add_column(col, justify="right", no_wrap=True)
    for p in results:
        prefix = "v" if p.line == "dgxc" else ""
        table.add_row(
            f"{prefix}{p.first_release}>{p.second_release}",
            _short_gpu(p.gpu),
            str(p.gpus),
            _short_model(p.model),
            p.precision.replace(" > ", ">").replace("mxfp8", "mx"),
            f"{p.measured_ratio:.3f}",
            f"{p.model_ratio:.3f}",
            f"{p.ratio_error_pct:+.1f}" + ("" if p.first_software == p.second_software else "*"),
        )
    return table


def render_summary(doc: dict) -> Table:
    table = Table(
        title="By release step and family (geometric means)", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    table.add_column("step / family", no_wrap=True)
    for col in ("n", "meas", "model", "err%", "gain", "loss"):
        table.add_column(col, justify="right", no_wrap=True)
    for k, v in doc.items():
        table.add_row(
            k,
            str(v["pairs"]),
            f"{v['measured_ratio']:.3f}",
            f"{v['model_ratio']:.3f}",
            f"{v['mean_ratio_error_pct']:+.1f}",
            str(v["missed_gain"]),
            str(v["missed_loss"]),
        )
    return table


def main(argv: list[str]) -> None:
    args = parse(argv, takes_out=True)
    catalog.software("megatron-bridge-2025")  # the catalog loads before the rows are priced
    _, rows = read_rows("all")
    results = [p for p in (pair_ratio(a, b) for a, b in pairs(rows)) if p is not None]
    doc = {
        "pairs": [asdict(p) for p in results],
        "summary": summary(results),
        "release_notes": [asdict(n) for n in RELEASE_NOTES],
    }
    parts = [
        render_pairs(results),
        "err: model ratio / measured ratio - 1 (- = the later release faster than the model says); *: the two "
        "rows are priced with different stack profiles",
        render_summary(doc["summary"]),
        "gain / loss: pairs the model misses by more than 5 points (later release faster / slower than priced)",
    ]
    parts += [f'{n.release} [{n.component}] {n.what}: "{n.quote}" ({n.url})' for n in RELEASE_NOTES]
    emit(args, doc, parts)


@dataclass(frozen=True)
class ReleaseNote:
    """A performance feature or known regression a release's notes state, quoted."""

    release: str  # the container or component release
    component: str
    what: str  # "feature" or "regression" and its mechanism in a few words
    quote: str
    url: str


_MB_CHANGELOG = "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/v0.2.2/CHANGELOG.md"
_MB_DOCS = "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/067f987df03b8355b03192d88d70f1709fedf51a/docs/fern"
_MB_KNOWN = _MB_DOCS + "/versions/nightly/pages/releases/known-issues.mdx"
_MB_PLUGINS_041 = "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/v0.4.1/scripts/performance/perf_plugins.py"
_MB_PLUGINS_050 = "https://github.com/NVIDIA-NeMo/Megatron-Bridge/blob/v0.5.0/scripts/performance/perf_plugins.py"
_MCORE_014 = "https://sourceforge.net/projects/megatron.mirror/files/core_v0.14.0"
_MCORE_015 = "https://sourceforge.net/projects/megatron.mirror/files/core_v0.15.0"
_TE_213 = "https://docs.nvidia.com/deeplearning/transformer-engine/release-notes/_sources/index.md.txt"
_TE_214 = "https://github.com/NVIDIA/TransformerEngine/releases/tag/v2.14"

# What each release says it changed for speed (features) or lost (known issues), quoted. The container a component
# shipped in is from Megatron-Bridge's software-versions page (_MB_DOCS + .../releases/software-versions.mdx):
# 25.09 Megatron-Core 0.14.0, TE 2.7.0, cuDNN 9.11; 25.11 Megatron-Core dev:0.15.0, TE 2.9, cuDNN 9.13.1; 26.02
# Megatron-Core main:0.16.0, TE 2.12, CUDA 13.0.2, cuDNN 9.18; 26.04 Megatron-Core 0.17.0, TE 2.14, CUDA 13.1.1,
# cuDNN 9.20.
RELEASE_NOTES: tuple[ReleaseNote, ...] = (
    ReleaseNote(
        "25.09",
        "Megatron-Bridge 0.1.0rc3",
        "feature: fused router, fused permutation, all-to-all overlap, dense full-iteration CUDA graph",
        "Fusion of operators in router function; Global permutation fusion with A2A dispatcher; EP A2A "
        "communication overlap with computation in both 1F1B pipelining and non-pipelined training; Full iteration "
        "cuda graph for dense model without pipelining",
        _MB_CHANGELOG,
    ),
    ReleaseNote(
        "25.09",
        "Megatron-Core 0.14.0",
        "feature: router fusion, MoE CUDA graphs, expert-parallel all-to-all overlap",
        "Support Expert Parallel A2A Overlapping (MR !3470; MR !3074); Add MoE router fusion (MR !3809); Updates "
        "for MoE cudagraph (MR !3631)",
        _MCORE_014,
    ),
    ReleaseNote(
        "25.11",
        "Megatron-Bridge 0.2.0",
        "feature: HybridEP, full-model CUDA graphs for dense, per-component CUDA graphs for MoE",
        "HybridEP: DeepSeek V3 benchmarks on GB200 and GB300 systems now use HybridEP; Full-model iteration CUDA "
        "graph used for dense models- Llama3 8B, Llama3 70B, Llama3.1 405B; Fine-grained Transformer component "
        "specific CUDA Graphs used for MoE models",
        _MB_CHANGELOG,
    ),
    ReleaseNote(
        "25.11",
        "Megatron-Core 0.15.0",
        "feature with a stated speedup: fused QKV preprocessing (not seen in the dense 25.09 > 25.11 pairs)",
        "Fused QKV preprocessing with precomputed RoPE caches (3x preprocessing speedup, 10-14% E2E) (MR !3912)",
        _MCORE_015,
    ),
    ReleaseNote(
        "25.11",
        "Megatron-Bridge known issues",
        "known issue: DeepEP on H100 DeepSeek-V3",
        "Deepseek V3 on H100 has an issue when using DeepEP and fails with `RuntimeError: DeepEP error: timeout "
        "(dispatch CPU)`.",
        _MB_KNOWN,
    ),
    ReleaseNote(
        "26.02",
        "Megatron-Bridge known issues",
        "known regression: no DeepEP in 26.02, slower DeepSeek-V3 on H100 (no bundled 26.02 MoE row)",
        "DeepEP is not supported in the current NeMo framework 26.02 container (nvcr.io/nvidia/nemo:26.02), which "
        "results in reduced DSv3 performance compared to the NeMo framework 25.09 container "
        "(nvcr.io/nvidia/nemo:25.09) on H100 machines.",
        _MB_KNOWN,
    ),
    ReleaseNote(
        "26.04",
        "Transformer Engine 2.13",
        "feature: MXFP8 quantization of grouped (MoE) tensors with fused swizzling",
        "[C] Added MXFP8 quantization kernels for grouped tensors used in MoE, with fused scale-factor swizzling "
        "for improved performance.",
        _TE_213,
    ),
    ReleaseNote(
        "26.04",
        "Transformer Engine 2.14",
        "feature: host overhead cut; fused GEMM + SwiGLU grouped MLP for MXFP8 (priced where a recipe enables it)",
        "[PyTorch] Added multiple CPU overhead optimizations across the framework integration to reduce per-step "
        "Python/host overhead. (#2559) (#2724); [PyTorch] Added a fused GEMM + SwiGLU grouped MLP for MXFP8 to "
        "accelerate MoE forward/backward. (#2769)",
        _TE_214,
    ),
    ReleaseNote(
        "26.04.01",
        "Megatron-Bridge 0.4.1 performance scripts",
        "known regression with a workaround: HybridEP's unfused combine",
        "# Workaround for unfused combine performance regression in DeepEP hybrid-ep. # Remove after "
        "https://github.com/NVIDIA/Megatron-LM/pull/4089 lands.",
        _MB_PLUGINS_041,
    ),
    ReleaseNote(
        "26.06",
        "Megatron-Bridge 0.5.0 performance scripts",
        "feature: the CuTe DSL fused grouped MLP switched on for the DeepSeek-V3 MXFP8 recipes (priced)",
        'if workload_base_config.cutedsl_fused_grouped_mlp: executor.env_vars["NVTE_CUTEDSL_FUSED_GROUPED_MLP"] = "1"',
        _MB_PLUGINS_050,
    ),
)


if __name__ == "__main__":
    run(main, sys.argv[1:])
