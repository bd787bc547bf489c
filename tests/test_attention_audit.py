"""The attention-backend audit of the bundled Hopper row families (supercluster.validate.attention_audit)."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf.te_flash_fallback import TE_FLASH_CLASS
from supercluster.validate import attention_audit as audit
from supercluster.validate.harness import read_rows


def _rows():
    return read_rows("all")[1]


def test_every_audited_row_carries_the_class_its_recipe_ran():
    assert audit.audit_mismatches(_rows()) == []


def test_each_family_matches_rows_and_no_row_matches_two():
    rows = _rows()
    counts = Counter()
    for row in rows:
        hits = [entry.family for entry in audit.AUDIT if entry.matches(row)]
        assert len(hits) <= 1, (row["id"], hits)
        counts.update(hits)
    assert all(counts[entry.family] > 0 for entry in audit.AUDIT), counts
    # the families the audit found on FlashAttention-2 inside Transformer Engine, by row count (hand count of the
    # bundled CSVs): GPT-3 175B v24.11.1 10, Nemotron-4 340B v24.11.1 10, Grok-1 v24.11.1 + v25.02 24
    fa2 = [counts[e.family] for e in audit.AUDIT if e.attention_class == TE_FLASH_CLASS]
    assert sum(fa2) == 10 + 10 + 24 + 6  # and MLPerf v3.1's 6


def test_every_family_that_ran_flash_attention_2_carries_the_class():
    # MLPerf v3.1's Dockerfile pins a pre-v1.2 Transformer Engine and flash-attn 2.0.8: FlashAttention-2 ran, and the
    # rows carry it although it reads slightly worse (LOSO 7.599 -> 7.619); nothing is held back
    for entry in audit.AUDIT:
        ran_fa2 = entry.backend.startswith("FlashAttention-2")
        assert ran_fa2 == (entry.attention_class == TE_FLASH_CLASS), entry.family


def test_the_same_recipe_switches_class_with_its_release():
    # nemotron/configure.sh's 340B branch exports NVTE_FUSED_ATTN=0 at v24.11.1; the NeMo 2.0 launch of v25.05.01
    # sets it to 1, so the 340B rows of the two releases sit in different classes
    by_id = {row["id"]: row for row in _rows()}
    old = audit.family_of(by_id["dgxc2409-h100-nemotron4-340b-bf16-128"])
    new = audit.family_of(by_id["dgxc2504-h100-nemotron4-340b-bf16-256"])
    assert old is not None and new is not None
    assert (old.attention_class, new.attention_class) == (TE_FLASH_CLASS, "cudnn")


def test_a_row_moved_off_its_recipes_class_is_reported():
    row = next(r for r in _rows() if r["id"] == "dgxc2409-h100-llama31-8b-bf16-8")
    assert audit.audit_mismatches([row]) == []
    moved = dict(row, software="nemo-2024-flash-attn")
    assert catalog.software("nemo-2024-flash-attn").attention_class == TE_FLASH_CLASS
    assert audit.audit_mismatches([moved]) == [(row["id"], TE_FLASH_CLASS, "cudnn")]


def test_hopper_cards_are_the_catalogs_sm90_cards():
    # H100 SXM/PCIe/96 GB, H800 and H200 are compute capability 9.0; the A100 (8.0) and B200 (10.0) are not
    assert {"h100-sxm-80gb", "h800-sxm-80gb", "h200-sxm-141gb"} <= set(audit.HOPPER_GPUS)
    assert "a100-sxm-80gb" not in audit.HOPPER_GPUS and "b200" not in audit.HOPPER_GPUS


def test_off_hopper_rows_are_not_audited():
    row = next(r for r in _rows() if r["id"].startswith("dgxc2504-gb200-nemotron4-340b"))
    assert audit.family_of(row) is None


def test_entries_are_checked_on_construction():
    good = audit.AUDIT[0]
    with pytest.raises(SuperclusterError, match="valid: cudnn, fa2, fa2-te"):
        dataclasses.replace(good, attention_class="flash")
    with pytest.raises(SuperclusterError, match="valid: recipe, framework-default, not-established"):
        dataclasses.replace(good, verdict="guessed")


def test_verdicts_and_evidence_are_filled():
    for entry in audit.AUDIT:
        assert entry.evidence and entry.where and entry.source_has
        # a class other than cuDNN needs the recipe itself as evidence
        if entry.attention_class != "cudnn":
            assert entry.verdict == "recipe"
