"""Transformer Engine's attention backend for GPT-OSS (learnable sinks, 128-token window on half the layers, head dim
64) in the Megatron-Bridge containers (issue 15): cuDNN's fused attention, sub-backend 1, on Hopper and Blackwell
alike (scripts/gptoss_attention_backend.py carries the quoted TE conditions). The controls check that the encoded
conditions do turn the fused path off where TE's source says they do, so the verdict is not true by construction."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import gptoss_attention_backend as gab

from supercluster.errors import SuperclusterError
from supercluster.validate.harness import read_rows

TE29 = gab.CONTAINERS["25.11"]
TE214 = gab.CONTAINERS["26.04.01"]
WINDOW = 128


@pytest.fixture(scope="module")
def results() -> list[gab.RowBackend]:
    _, rows = read_rows("all")
    return [gab.row_backend(r) for r in gab.bridge_rows(rows)]


def test_containers_from_bridge_docs() -> None:
    # docs/releases/software-versions.md: 25.11 "Transformer Engine | 2.9", "cuDNN | 9.13.1.26";
    # 26.04 "Transformer Engine | 2.14+71bbefb", "cuDNN | 9.20.0.48-1"
    assert (TE29.te, TE29.cudnn) == ((2, 9), 9 * 10000 + 13 * 100 + 1)
    assert (TE214.te, TE214.cudnn) == ((2, 14), 9 * 10000 + 20 * 100 + 0)
    assert not TE29.deterministic and not TE214.deterministic


def test_every_bridge_gptoss_row_runs_cudnn_fused(results: list[gab.RowBackend]) -> None:
    # 14 rows: 25.11 (B200, GB200, GB300, H100), 26.04 and 26.04.01 (B200, B300, GB200, GB300, H100 each)
    assert len(results) == 14
    assert {r.sm_arch for r in results} == {90, 100, 103}
    assert {r.container for r in results} == {"25.11", "26.04", "26.04.01"}
    for r in results:
        assert (r.window_layers, r.full_layers) == (gab.FUSED, gab.FUSED), r.row_id
        # the step model prices the same fused kernel (no materialised scores, no FlashAttention-2 substitution)
        assert (r.model_kernel, r.model_fa2) == ("flash", False), r.row_id


@pytest.mark.parametrize("c", [TE29, TE214])
@pytest.mark.parametrize("sm", [90, 100, 103])
def test_sink_window_layer_fused_and_flash_never(c: gab.Container, sm: int) -> None:
    choice = gab.select(c, gab.Attn(sm, window_left=WINDOW))
    assert choice.backend == gab.FUSED
    assert "flash off: softmax_type" in choice.reasons  # FlashAttention is filtered out for any sink


@pytest.mark.parametrize("sm", [90, 100])
def test_cudnn_before_9_13_1_falls_back_unfused_everywhere(sm: int) -> None:
    # fused_attn.cpp: "pre-9.13.1: vanilla / 9.13.1+: vanilla, off-by-one, learnable"; the 25.11 container sits at
    # 9.13.1 exactly: 9.13.0 would have trained every card unfused (the gate is architecture-blind)
    old = gab.Container("old", (2, 9), 91300, False)
    assert gab.select(old, gab.Attn(sm, window_left=WINDOW)).backend == gab.UNFUSED
    assert gab.select(old, gab.Attn(sm, softmax="vanilla", window_left=WINDOW)).backend == gab.FUSED


def test_determinism_is_the_only_blackwell_specific_switch() -> None:
    det29 = gab.Container("det", (2, 9), 91301, True)
    # v2.9: "Disabling FusedAttention for determinism reasons on Blackwell" (training, sm >= 100 only)
    assert gab.select(det29, gab.Attn(100, window_left=WINDOW)).backend == gab.UNFUSED
    assert gab.select(det29, gab.Attn(90, window_left=WINDOW)).backend == gab.FUSED
    # v2.14: any deterministic sink attention loses FusedAttention ("requires NVTE_ALLOW_NONDETERMINISTIC_ALGO=1")
    det214 = gab.Container("det", (2, 14), 92000, True)
    for sm in (90, 100):
        assert gab.select(det214, gab.Attn(sm, window_left=WINDOW)).backend == gab.UNFUSED
    # ... but vanilla softmax keeps it on Blackwell from cuDNN 9.18.1 ("9.18.1+: ... non-deterministic/deterministic")
    assert gab.select(det214, gab.Attn(100, softmax="vanilla")).backend == gab.FUSED
    assert gab.select(gab.Container("d", (2, 14), 91800, True), gab.Attn(100, softmax="vanilla")).backend == gab.FLASH


def test_fp8_attention_with_sinks_has_no_backend() -> None:
    # "Disabling FusedAttention for softmax_type = %s in FP8" and "Disabling UnfusedDotProductAttention ... in FP8":
    # the recipes' fp8_dot_product_attention = False is what lets the FP8/MXFP8 GPT-OSS runs train at all
    assert gab.select(TE214, gab.Attn(100, window_left=WINDOW, fp8_dpa=True)).backend == gab.NONE


def test_vanilla_softmax_prefers_fused_on_hopper_and_flash_on_ampere() -> None:
    # "Disabling FlashAttention to give FusedAttention preference on Hopper+ for performance reasons"
    assert gab.select(TE29, gab.Attn(90, softmax="vanilla")).backend == gab.FUSED
    assert gab.select(TE29, gab.Attn(80, softmax="vanilla")).backend == gab.FLASH


def test_sink_with_context_parallel_needs_a2a() -> None:
    # "Disabling FusedAttention for context parallelism with softmax_type = %s and cp_comm_type = %s", and Unfused
    # never runs under CP: a sink model with p2p CP has no backend (hence the recipe's cp_comm_type = "a2a")
    for c in (TE29, TE214):
        assert gab.select(c, gab.Attn(100, context_parallel=True, cp_comm_type="p2p")).backend == gab.NONE
        assert gab.select(c, gab.Attn(100, context_parallel=True, cp_comm_type="a2a")).backend == gab.FUSED


def test_unknown_container_is_an_error() -> None:
    with pytest.raises(SuperclusterError, match=r"valid: 25\.11, 26\.04, 26\.04\.01"):
        gab.container_of({"id": "x", "source": "Megatron-Bridge, 25.09 NeMo container"})
