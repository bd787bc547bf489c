"""Which attention kernel each bundled Hopper run family really used, read from its recipe (issue 14 audit).

The H100 attention fractions are fitted on stacks that run cuDNN's fused attention (perf.attention_class, the cuDNN
class); Transformer Engine (TE) recipes that run FlashAttention-2 instead take ``attention_class: fa2-te``
(perf.te_flash_fallback). Which one ran is a fact of the recipe, not a fitted choice. TE picks the backend from
environment variables first (``NVTE_FLASH_ATTN``, ``NVTE_FUSED_ATTN``, both default 1) and then, where both are
allowed, by its own preference, which changed once:

- TE before v1.2 tries flash-attn first (NVIDIA/TransformerEngine 09ba842, 2023-10-01, attention.py
  DotProductAttention.forward: "if use_flash_attention: ... return self.flash_attention(...)" ahead of the fused
  branch);
- TE v1.2 (2023-12-15) and later prefer cuDNN on Hopper (v1.2 attention.py: "# Select FusedAttention on sm90 and
  FlashAttention on others for performance", then ``use_flash_attention = False`` on compute capability 9.0; TE
  2.x: "Disabling FlashAttention to give FusedAttention preference on Hopper+ for performance reasons").

Megatron-Core from 2024-12-07 (NVIDIA/Megatron-LM fa0dcc4, "Attention as a config option in mcore") sets those
variables from ``attention_backend``, default ``AttnBackend.auto`` (transformer_config.py), which sets all three to 1
and leaves the choice to TE (language_module.py _set_attention_backend); its ``--use-flash-attn`` flag is read only
by the legacy model (megatron/legacy/model/transformer.py, core_r0.12.0-r0.14.0), not by Megatron-Core models.

:data:`AUDIT` is the table of findings, one entry per row family (the Hopper rows whose source names the family),
with the backend that ran, the class the family's rows carry, the verdict (``recipe``: the recipe or its framework's
launch code sets it; ``framework-default``: the framework of the run's date leaves it to TE's preference and the
recipe is not public; ``not-established``: neither could be read) and the quoted evidence with the repository and
commit it was read at. Every backend found is carried by its rows, none is held back: the MLPerf Training v3.1
GPT-3 175B rows ran FlashAttention-2 inside Transformer Engine and carry it (profile nemo-2023-te-flash), although
pricing it raises the leave-one-source-out error slightly (7.599 -> 7.619): a recorded stack fact is not dropped
because it reads worse. Families whose profile already quotes its
decision (torchtitan, fms-fsdp and llm-foundry through fsdp-2024's SDPA verdict; MaxText and PaxML through
jax-fsdp-2024) are not repeated here.
:func:`audit_mismatches` lists the bundled rows whose software profile disagrees with the table
(tests/test_attention_audit.py keeps it empty).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.attention_class import HOPPER_SM_ARCH
from supercluster.specs import SoftwareProfile
from supercluster.validate.rows import row_specs

# the Hopper cards of the catalog (accelerator ids; the compute capability perf.attention_class prices)
HOPPER_GPUS: tuple[str, ...] = tuple(
    name for name in catalog.names("accelerators") if catalog.accelerator(name).sm_arch == HOPPER_SM_ARCH
)

Verdict = Literal["recipe", "framework-default", "not-established"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
# the choices of SoftwareProfile.attention_class (one list: the profile's Literal)
ATTENTION_CLASSES: tuple[str, ...] = get_args(SoftwareProfile.model_fields["attention_class"].annotation)


@dataclass(frozen=True)
class AuditEntry:
    """One row family: the Hopper rows whose ``source`` contains every string of ``source_has``."""

    family: str
    source_has: tuple[str, ...]
    backend: str
    attention_class: str  # one of SoftwareProfile.attention_class's choices (checked on construction)
    verdict: Verdict
    evidence: str
    where: str

    def __post_init__(self) -> None:
        if self.attention_class not in ATTENTION_CLASSES:
            raise SuperclusterError(
                f"audit entry '{self.family}': unknown attention_class '{self.attention_class}'; valid: "
                f"{', '.join(ATTENTION_CLASSES)}"
            )
        if self.verdict not in VERDICTS:
            raise SuperclusterError(
                f"audit entry '{self.family}': unknown verdict '{self.verdict}'; valid: {', '.join(VERDICTS)}"
            )

    def matches(self, row: dict[str, str]) -> bool:
        """Whether a bundled row belongs to this family (a Hopper row whose source names it)."""
        source = row.get("source") or ""
        return (row.get("gpu") or "").strip() in HOPPER_GPUS and all(s in source for s in self.source_has)


_DGXC = "NVIDIA/dgxc-benchmarking"
_TE_PREFERS_CUDNN = (
    'both switches on, TE prefers cuDNN on Hopper ("Disabling FlashAttention to give FusedAttention preference on '
    'Hopper+ for performance reasons")'
)

AUDIT: tuple[AuditEntry, ...] = (
    AuditEntry(
        "DGX Cloud Llama 3.1 8B/70B/405B, v24.11.1 (NeMo 24.09)",
        ("dgxc-benchmarking v24.11.1) llama3.1/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'llama3.1/configure.sh: "export NVTE_FLASH_ATTN=0" and "export NVTE_FUSED_ATTN=1"',
        f"{_DGXC} v24.11.1 (35a9aec)",
    ),
    AuditEntry(
        "DGX Cloud Llama 3.1 8B/70B/405B, v25.02 (NeMo 24.12)",
        ("dgxc-benchmarking v25.02) llama3.1/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'llama3.1/configure.sh: "export NVTE_FLASH_ATTN=0" and "export NVTE_FUSED_ATTN=1"',
        f"{_DGXC} v25.02 (8f5cbb3)",
    ),
    AuditEntry(
        "DGX Cloud Llama 3.1, v25.04 (NeMo 25.02.01)",
        ("dgxc-benchmarking v25.04) llama3.1/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'llama3.1/llama31_utils.py: "NVTE_FLASH_ATTN": "1", "NVTE_FUSED_ATTN": "1"  # Enable cuDNN fused attention; '
        + _TE_PREFERS_CUDNN,
        f"{_DGXC} v25.04",
    ),
    AuditEntry(
        "DGX Cloud Llama 3.1, v25.05.01 (NeMo 25.04.01)",
        ("dgxc-benchmarking v25.05.01) llama3.1/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'NeMo scripts/performance/utils.py (setup.sh NEMO_COMMIT 6f2c6fd): "NVTE_FLASH_ATTN": "1", "NVTE_FUSED_ATTN": '
        '"1"  # Enable cuDNN fused attention; ' + _TE_PREFERS_CUDNN,
        f"{_DGXC} v25.05.01; NVIDIA/NeMo 6f2c6fd",
    ),
    AuditEntry(
        "DGX Cloud Nemotron-4 15B, v24.11.1 and v25.02",
        ("dgxc-benchmarking v2", ") nemotron/README_15b"),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'nemotron/configure.sh: "# 15b" / "export NVTE_FUSED_ATTN=1" (NVTE_FLASH_ATTN unset); ' + _TE_PREFERS_CUDNN,
        f"{_DGXC} v24.11.1 (35a9aec), v25.02 (8f5cbb3)",
    ),
    AuditEntry(
        "DGX Cloud Nemotron-4 340B, v24.11.1 (NeMo 24.09)",
        ("dgxc-benchmarking v24.11.1) nemotron/README_340b",),
        "FlashAttention-2 inside TE",
        "fa2-te",
        "recipe",
        'nemotron/configure.sh: "# 340b" / "export NVTE_FUSED_ATTN=0" (decided by perf.te_flash_fallback)',
        f"{_DGXC} v24.11.1 (35a9aec)",
    ),
    AuditEntry(
        "DGX Cloud Nemotron-4 15B and 340B, v25.05.01 (NeMo 25.04)",
        ("dgxc-benchmarking v25.05.01) nemotron/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'NeMo scripts/performance/utils.py (setup.sh NEMO_COMMIT b4148d2): "NVTE_FLASH_ATTN": "1", "NVTE_FUSED_ATTN": '
        '"1"; the 340B branch no longer sets 0 (NeMo 2.0 launch, not configure.sh); ' + _TE_PREFERS_CUDNN,
        f"{_DGXC} v25.05.01; NVIDIA/NeMo b4148d2",
    ),
    AuditEntry(
        "DGX Cloud GPT-3 175B, v24.11.1 (NeMo 24.05)",
        ("dgxc-benchmarking v24.11.1) nemo_megatron/",),
        "FlashAttention-2 inside TE",
        "fa2-te",
        "recipe",
        'nemo_megatron/launch.sh: "export NVTE_FUSED_ATTN=0" (decided by perf.te_flash_fallback)',
        f"{_DGXC} v24.11.1 (35a9aec)",
    ),
    AuditEntry(
        "DGX Cloud GPT-3 175B, v25.02 (NeMo 24.12)",
        ("dgxc-benchmarking v25.02) nemo_megatron/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'nemo_megatron/configure.sh: "export NVTE_FUSED_ATTN=1" (decided by perf.te_flash_fallback)',
        f"{_DGXC} v25.02 (8f5cbb3)",
    ),
    AuditEntry(
        "DGX Cloud Grok-1 314B, v24.11.1 and v25.02",
        ("dgxc-benchmarking v2", ") grok1/"),
        "FlashAttention-2 inside TE",
        "fa2-te",
        "recipe",
        'grok1/configure.sh: "export NVTE_FUSED_ATTN=0" (decided by perf.te_flash_fallback)',
        f"{_DGXC} v24.11.1 (35a9aec), v25.02 (8f5cbb3)",
    ),
    AuditEntry(
        "DGX Cloud Llama 4 Maverick, v25.05.04 (NeMo 25.04.01)",
        ("dgxc-benchmarking v25.05.04) llama4/",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'NeMo scripts/performance/utils.py (setup.sh NEMO_COMMIT 7a8f1cc): "NVTE_FLASH_ATTN": "1", "NVTE_FUSED_ATTN": '
        '"1"; ' + _TE_PREFERS_CUDNN,
        f"{_DGXC} v25.05.04; NVIDIA/NeMo 7a8f1cc",
    ),
    AuditEntry(
        "DGX Cloud DeepSeek-V3, v25.05 and v25.05.04 (NeMo 25.04.01)",
        ("dgxc-benchmarking v25.05", "deepseek_v3/pretraining"),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'NeMo scripts/performance/utils.py (setup.sh NEMO_COMMIT 7a8f1cc): "NVTE_FLASH_ATTN": "1", "NVTE_FUSED_ATTN": '
        '"1"; ' + _TE_PREFERS_CUDNN + "; MLA's query/key head dim 192 with value head dim 128 is a cuDNN shape",
        f"{_DGXC} v25.05, v25.05.04; NVIDIA/NeMo 7a8f1cc",
    ),
    AuditEntry(
        "NeMo 25.02 performance summary, DGX-H100",
        ("NeMo 25.02, DGX-H100",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'scripts/llm/performance/utils.py: "NVTE_FUSED_ATTN": "1", "NVTE_FLASH_ATTN": "1"; ' + _TE_PREFERS_CUDNN,
        "NVIDIA/NeMo v2.2.0",
    ),
    AuditEntry(
        "NeMo 24.07 performance summary, DGX-H100",
        ("NVIDIA/NeMo docs performance_summary.md",),
        "not established (FlashAttention-2 if the launcher defaults were kept)",
        "cudnn",
        "not-established",
        'the page names the container only ("Container: NeMo24.07"); NeMo-Framework-Launcher\'s tag 24.07 ships '
        "launcher_scripts/conf/config.yaml env_vars \"NVTE_FUSED_ATTN: 0 # Disable cudnn FA until we've tested it "
        'more" (from 562dcb45, 2024-02-13, to 04b8d098, 2024-08-29, "enable fused attention"), and 95c77b59 '
        '(2024-07-31, "Enable cuDNN FlashAtt only for 175B", first in tag 24.09) adds "+env_vars.NVTE_FUSED_ATTN=1" '
        "to the GPT-3 175B example only; whether the summary's runs used those defaults is not stated, so the rows "
        "keep the cuDNN class (at FlashAttention-2 speed the Llama 2 7B/13B and Llama 3 8B/70B rows would read "
        "15-23% too slow, against -3 to -6% now)",
        "NVIDIA/NeMo v2.0.0 docs/source/performance/performance_summary.md; NVIDIA/NeMo-Framework-Launcher 24.07",
    ),
    AuditEntry(
        "MLPerf Training v3.1 GPT-3 175B (NVIDIA, Eos, NeMo 23.09)",
        ("MLPerf Training v3.1",),
        "FlashAttention-2 (flash-attn 2.0.8) inside TE",
        "fa2-te",
        "recipe",
        'Dockerfile: "ARG TE_REVISION=09ba84278a0e5b2eff80239599fbfc5e6beb389f" (2023-10-01, before TE v1.2, '
        'flash-attn first) and "pip install --upgrade --no-deps flash-attn==2.0.8"; config_common.sh leaves '
        '"# export NVTE_FLASH_ATTN=0" commented out; conf/custom.yaml "transformer_engine: ...True"',
        "mlcommons/training_results_v3.1 @d06288b NVIDIA/benchmarks/gpt3/implementations/pytorch",
        # landed as a stack fact although it reads worse (a class applied only where it helps would be tuning by
        # omission): the 6 rows at fa2-te (perf.te_flash_fallback) move from -4.3..+2.4% to -6.9..-1.7% (too slow),
        # validate all 7.504 -> 7.524%, its LOSO column 7.894 -> 7.914; scripts/refit_protocol.py --catalog-attention
        # in sample 7.501 -> 7.521, leave-one-source-out 7.599 -> 7.619 (main 0888007, 2026-12-01;
        # benchmarks/results/refit_protocol_attention_audit_before.json and _mlperf31_fa2.json)
    ),
    AuditEntry(
        "MLPerf Training v4.0 GPT-3 175B (NVIDIA, Eos, NeMo 24.04)",
        ("MLPerf Training v4.0",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'Dockerfile: "ARG TE_REVISION=v1.6rc1" (TE v1.6rc1 attention.py: "# Select FusedAttention on sm90 and '
        'FlashAttention on others for performance"); config_common.sh: "#export NVTE_FUSED_ATTN=0 # Disable cuDNN '
        'fused attention" commented out',
        "mlcommons/training_results_v4.0 NVIDIA/benchmarks/gpt3/implementations/nemo",
    ),
    AuditEntry(
        "Megatron-LM README H100 table (Megatron-Core r0.8.0, 2024)",
        ("NVIDIA/Megatron-LM README performance table",),
        "cuDNN fused attention (TE preference of the table's date)",
        "cudnn",
        "framework-default",
        "the README states no launch command or environment; at core_r0.8.0 (July 2024) Megatron-Core's TE layers "
        "call TE's DotProductAttention with the switches unset, and every TE from v1.2 (2023-12) prefers cuDNN on "
        "Hopper",
        "NVIDIA/Megatron-LM README.md f2e5db4, core_r0.8.0",
    ),
    AuditEntry(
        "MoE Parallel Folding (Liu et al. 2025), H100",
        ("MoE Parallel Folding",),
        "cuDNN fused attention (Megatron-Core default)",
        "cudnn",
        "framework-default",
        "the paper gives no attention backend; Megatron-Core of its date defaults attention_backend to "
        '"AttnBackend.auto", which sets NVTE_FLASH_ATTN/NVTE_FUSED_ATTN to 1, and TE then prefers cuDNN on Hopper',
        "arXiv:2504.14960; NVIDIA/Megatron-LM fa0dcc4 (2024-12-07) language_module.py",
    ),
    AuditEntry(
        "MegaScale-MoE Megatron-LM baseline (H800)",
        ("MegaScale-MoE",),
        "cuDNN fused attention (TE preference of the commit's date)",
        "cudnn",
        "framework-default",
        "Megatron-LM f1f03922 (2024-10-28) builds TE's DotProductAttention with the switches unset; the paper gives "
        "no environment; TE from v1.2 prefers cuDNN on Hopper",
        "arXiv:2505.11432 Table 3; NVIDIA/Megatron-LM f1f03922",
    ),
    AuditEntry(
        "Megatron-MoE-ModelZoo Qwen3 H100 tables",
        ("Megatron-MoE-ModelZoo best_practice/qwen3",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'model_configs/benchmarking/Qwen3-235B-A22B.yaml: "--use-mcore-models: true", "--use-flash-attn: true" '
        "(read only by megatron/legacy/model/transformer.py, so without effect on Megatron-Core models) and no "
        "--attention-backend, i.e. auto: " + _TE_PREFERS_CUDNN,
        "yanring/Megatron-MoE-ModelZoo e865051; NVIDIA/Megatron-LM core_r0.13.0",
    ),
    AuditEntry(
        "Megatron-Bridge performance summaries, H100",
        ("NVIDIA-NeMo/Megatron-Bridge",),
        "cuDNN fused attention",
        "cudnn",
        "recipe",
        'scripts/performance/utils/executors.py (v0.1.0rc4): "NVTE_FLASH_ATTN": "1", "NVTE_FUSED_ATTN": "1"; '
        'recipes (llama/h100/llama3.py, gpt_oss/h100/gpt_oss.py): "cfg.model.attention_backend = None", auto; '
        + _TE_PREFERS_CUDNN,
        "NVIDIA-NeMo/Megatron-Bridge v0.1.0rc4, 067f987",
    ),
    AuditEntry(
        "NeMo AutoModel performance summary, DGX-H100 (TE attention)",
        ("NeMo AutoModel",),
        "cuDNN fused attention (the GPT-OSS rows: FlexAttention, automodel-2025-flex)",
        "cudnn",
        "recipe",
        "examples/llm_benchmark kimi/kimi_k2_te_deepep.yaml, deepseek/deepseek_v3_te_deepep.yaml, "
        'qwen/qwen3_moe_30b_te_deepep.yaml: "attn: te" (TE DotProductAttention, switches unset); ' + _TE_PREFERS_CUDNN,
        "NVIDIA-NeMo/Automodel 36044ad (read at the newest snapshot, after the runs)",
    ),
    AuditEntry(
        "Nemotron-4 15B technical report (Parmar et al. 2024)",
        ("Nemotron-4 15B Technical Report",),
        "not established",
        "cudnn",
        "not-established",
        "the report names Megatron tensor parallelism and a distributed optimizer, not the software release; a TE "
        "before v1.2 would have run flash-attn, a later one cuDNN",
        "arXiv:2402.16819 section 2",
    ),
    AuditEntry(
        "Llama 3 405B (Meta's stack)",
        ("Llama 3 Herd of Models",),
        "not established",
        "cudnn",
        "not-established",
        "the paper names no attention kernel for pre-training; Meta's stack is not public",
        "arXiv:2407.21783 section 3.3",
    ),
    AuditEntry(
        "DeepSeek-V3 (HAI-LLM, H800)",
        ("DeepSeek-V3 Technical Report",),
        "not established",
        "cudnn",
        "not-established",
        "HAI-LLM is not public and the report names no attention kernel",
        "arXiv:2412.19437 section 3",
    ),
)


def family_of(row: dict[str, str]) -> AuditEntry | None:
    """The audit entry a bundled row belongs to, or None when its family is not in :data:`AUDIT`."""
    found = [entry for entry in AUDIT if entry.matches(row)]
    return found[0] if found else None


def audit_mismatches(rows: Iterable[dict[str, str]]) -> list[tuple[str, str, str]]:
    """(row id, the class its software profile gives, the class the audit found) for every row of an audited family
    whose profile disagrees with the audit."""
    out = []
    for row in rows:
        entry = family_of(row)
        if entry is None:
            continue
        given = row_specs(row).software.attention_class
        if given != entry.attention_class:
            out.append((row["id"], given, entry.attention_class))
    return out
