"""The README's accuracy tables, generated from the code so they cannot drift.

    python scripts/readme_tables.py          # rewrite the tables between their markers in README.md
    python scripts/readme_tables.py --check  # exit 1 when README.md differs from the code's output (a test runs it)
    python scripts/readme_tables.py --report # also paste the first command's summary (tests/test_readme.py checks it)

Each table sits between `<!-- table:NAME -->` and `<!-- /table:NAME -->`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from script_args import guarded

from supercluster.validate.harness import run
from supercluster.validate.interval import calibration

README = Path(__file__).resolve().parent.parent / "README.md"

STACKS = (
    ("megatron-deepspeed-2022", "Megatron-DeepSpeed 2022 (BLOOM, MT-NLG)"),
    ("fsdp-2024", "PyTorch FSDP2 compiled (torchtitan)"),
    ("fsdp-eager-2024", "PyTorch FSDP2 eager (torchtitan)"),
    ("fsdp1-2023", "PyTorch FSDP1 (llm-foundry flash, fms-fsdp)"),
    ("llm-foundry-triton-2023", "PyTorch FSDP1, Triton attention (llm-foundry)"),
    ("fsdp1-eager-2024", "PyTorch FSDP1 eager (fms-fsdp)"),
    ("jax-fsdp-2024", "JAX FSDP (MaxText, PaxML)"),
    ("nemo-2024", "NeMo 24.x-25.x recipes"),
    ("megatron-bridge-2025", "Megatron-Bridge 2025-26"),
    ("megatron-core-2024", "Megatron-Core (MoE Parallel Folding, ModelZoo)"),
)
# profiles that are one stack run with another dispatcher or all-to-all overlap: counted with their stack
STACK_VARIANTS = {
    "megatron-bridge-2025": (
        "megatron-bridge-deepep-2025",
        "megatron-bridge-deepep-overlap-2025",
        "megatron-bridge-hybridep-overlap-2025",
        "megatron-bridge-a2a-overlap-2025",
    ),
    # megatron-lm-2024: the same stack at an October 2024 commit with its default MoE layer (MegaScale-MoE's baseline)
    "megatron-core-2024": ("megatron-core-deepep-2025", "megatron-core-deepep-overlap-2025", "megatron-lm-2024"),
    # NeMo recipes that leave the grouped GEMM off (SequentialMLP experts)
    "nemo-2024": ("nemo-2024-sequential",),
    # llm-foundry's Jan 2024 large-scale runs: Composer 0.17 reduces their gradients in fp32
    "fsdp1-2023": ("llm-foundry-2024",),
    "llm-foundry-triton-2023": ("llm-foundry-triton-2024",),
    # PaxML's FP8 through Transformer Engine's layers (ENABLE_TE=1) rather than XLA's native FP8 (perf.fp8_casts)
    "jax-fsdp-2024": ("jax-fsdp-te-2024",),
    # the BLOOM layout search's fp16 rows: the same stack on DeepSpeed's ZeRO-1 FP16 optimizer (its fp16_profile)
    "megatron-deepspeed-2022": ("megatron-deepspeed-2022-fp16",),
}
GROUPS = (
    ("bf16 dense throughput", "BF16 dense"),
    ("fp8 dense throughput", "FP8 dense"),
    ("fp16 dense throughput", "FP16 dense (BLOOM, DeepSpeed Azure)"),
    ("bf16 moe throughput", "BF16 MoE"),
    ("fp8 moe throughput", "FP8 MoE"),
    ("mxfp8 moe throughput", "MXFP8 MoE"),
)


def _row(name: str, st: dict) -> str:
    bias = st.get("mean_speed_error_pct")
    return f"| {name} | {st['n_predicted']} | {st['mape_pct']:.1f}% | {'-' if bias is None else f'{bias:+.1f}%'} |"


def _merged(per_stack: dict, key: str) -> dict:
    """A stack's figures over its profile and the variants of STACK_VARIANTS (MAPE and the mean signed error are
    means over rows, so they merge weighted by rows predicted)."""
    parts = [per_stack[k] for k in (key, *STACK_VARIANTS.get(key, ())) if k in per_stack]
    n = sum(p["n_predicted"] for p in parts)
    if n == 0:
        return parts[0]

    def mean(field: str) -> float | None:
        have = [p for p in parts if p.get(field) is not None and p["n_predicted"]]
        weight = sum(p["n_predicted"] for p in have)
        return sum(p[field] * p["n_predicted"] for p in have) / weight if weight else None

    return {"n_predicted": n, "mape_pct": mean("mape_pct"), "mean_speed_error_pct": mean("mean_speed_error_pct")}


def evidence_table() -> str:
    s = run("all").summary()
    lines = [
        f"All bundled sets: {s['n']} rows, {s['n_predicted']} predicted, MAPE {s['mape_pct']:.1f}%.",
        "",
        "| regime | rows predicted | MAPE | speed bias |",
        "| --- | --- | --- | --- |",
    ]
    lines += [_row(f"GPUs {name}", st) for name, st in s["per_gpu_band"].items()]
    lines += [_row(label, s["per_group"][key]) for key, label in GROUPS if key in s["per_group"]]
    lines += [_row(label, _merged(s["per_stack"], key)) for key, label in STACKS if key in s["per_stack"]]
    return "\n".join(lines)


def interval_table() -> str:
    c = calibration()
    return (
        f"Spread constant {c['scale']:.2f} over {c['rows']} residuals: leave-one-source-out coverage "
        f"{c['loso_coverage'] * 100:.1f}%, nested (the constant chosen without each document) "
        f"{c['nested_loso_coverage'] * 100:.1f}%, raw quantiles (spread 1.0) {c['coverage_at_scale_1'] * 100:.1f}%."
    )


TABLES = {"evidence": evidence_table, "interval": interval_table}


def render(text: str) -> str:
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- table:{name} -->\n)(.*?)(<!-- /table:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- table:{name} --> block")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(3), text)
    return text


def report_block(text: str) -> str:
    """The README's quoted output of `supercluster report`, as it prints in an 80-column terminal."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "COLUMNS": "80"}
        env.pop("FORCE_COLOR", None)
        cmd = [sys.executable, "-m", "supercluster.cli", "report"]
        out = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=True).stdout
    lines = "\n".join(line.rstrip() for line in out.splitlines() if line.strip())
    pattern = re.compile(r"(```\n)supercluster report:.*?\n(```)", re.S)
    if not pattern.search(text):
        raise SystemExit("README.md has no quoted `supercluster report` output")
    return pattern.sub(lambda m: m.group(1) + lines + "\n" + m.group(2), text, count=1)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--report" in sys.argv:
        new = report_block(new)
    if "--check" in sys.argv:
        if new != text:
            print(json.dumps({"stale": True, "fix": "python scripts/readme_tables.py"}))
            raise SystemExit(1)
        return
    README.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    guarded(
        main,
        "readme_tables.py [--check | --report]",
        flags=("--check", "--report"),
        valued=(),
        paths=(0, 0),
    )
