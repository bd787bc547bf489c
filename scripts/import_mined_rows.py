"""Bring rows mined from public sources (staging CSVs in the published-runs schema, plus quote, confidence and
source_url) into the bundled validation data, naming each row's software profile from its 'stack:' note.

    python scripts/import_mined_rows.py STAGING.csv OUT.csv

The mapping below is the only judgement applied: the stack a source ran, read off the row's own notes, becomes
the catalog software profile whose mechanisms match it (FSDP flavours -> fsdp-2024, fsdp1-2023 or jax-fsdp-2024,
Megatron-DeepSpeed -> megatron-deepspeed-2022, NVIDIA's Megatron stacks -> their profiles). Values are never
changed.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from script_args import guarded

# (substring of the 'stack:' note, software profile); first match wins
STACK_SOFTWARE = (
    ("llm-foundry", "fsdp1-2023"),
    ("torchtitan", "fsdp-2024"),
    ("fms-fsdp", "fsdp1-2023"),
    ("MaxText", "jax-fsdp-2024"),
    ("PaxML", "jax-fsdp-2024"),
    ("ZeRO-3", "fsdp-2024"),
    ("Megatron-DeepSpeed", "megatron-deepspeed-2022"),
    ("DeepSpeed + Megatron-LM", "megatron-deepspeed-2022"),
    ("NeMo AutoModel", "automodel-2025"),
    ("Megatron-Bridge", "megatron-bridge-2025"),
    ("NeMo 2", "nemo-2024"),
    ("NeMo dev", "nemo-2024"),
    ("Megatron-Core", "megatron-core-2024"),
    ("MegaScale", "megatron-core-2024"),
)


def software_for(notes: str) -> str:
    stack = notes.split(";")[0] if notes.startswith("stack:") else ""
    for needle, software in STACK_SOFTWARE:
        if needle in stack:
            return software
    return ""


def main(src: str, dst: str) -> None:
    with open(src, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = list(reader.fieldnames or [])
    for row in rows:
        if not (row.get("software") or "").strip():
            row["software"] = software_for(row.get("notes") or "")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{dst}: {len(rows)} rows")


if __name__ == "__main__":
    guarded(lambda: main(sys.argv[1], sys.argv[2]), "import_mined_rows.py STAGING.csv OUT.csv", paths=(2, 2))
