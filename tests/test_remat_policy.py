"""MaxText's name-based remat policies: the share of a full recompute they re-run, and the bundled rows that use it."""

from __future__ import annotations

import re

import pytest

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.validate.harness import read_rows
from supercluster.validate.remat_policy import recompute_fraction


def test_llama2_70b_save_dot_except_mlpwi_by_hand():
    """Llama 2 70B (h 8192, f 28672, 64 heads, 8 KV heads, d 128) at 4,096 tokens, per token and layer:
    qkv 2*8192*(64+16)*128 = 167,772,160; out 2*8192*64*128 = 134,217,728; gate+up 2*8192*2*28672 = 939,524,096;
    down 2*8192*28672 = 469,762,048; causal attention 2*4096*64*128 = 67,108,864; sum 1,778,384,896.
    Re-run: gate+up and the attention forward, 1,006,632,960 -> 0.56604. The down projection is never re-run, so
    save_dot_except_mlp (mlpwo not saved) re-runs exactly as much."""
    m = catalog.model("llama2-70b")
    assert recompute_fraction(m, 4096, "save_dot_except_mlpwi") == pytest.approx(1_006_632_960 / 1_778_384_896)
    assert recompute_fraction(m, 4096, "save_dot_except_mlp") == pytest.approx(1_006_632_960 / 1_778_384_896)
    # saving the attention output as well leaves only the gate and up projections: 939,524,096 / 1,778,384,896
    assert recompute_fraction(m, 4096, "save_dot_with_context_except_mlp") == pytest.approx(0.52830, abs=1e-5)


def test_llama3_70b_save_qkv_proj_by_hand():
    """Llama 3 70B at 8,192 tokens: causal attention 2*8192*64*128 = 134,217,728, the rest as Llama 2 70B; sum
    1,845,493,760. save_qkv_proj re-runs the attention forward, the output projection and gate+up:
    134,217,728 + 134,217,728 + 939,524,096 = 1,207,959,552 -> 0.65455; nothing saved ('full') also re-runs Q, K,
    V: 1,375,731,712 -> 0.74545, never 1 (the down projection is dead code in the backward)."""
    m = catalog.model("llama3-70b")
    assert recompute_fraction(m, 8192, "save_qkv_proj") == pytest.approx(1_207_959_552 / 1_845_493_760)
    assert recompute_fraction(m, 8192, "full") == pytest.approx(1_375_731_712 / 1_845_493_760)


def test_bad_policy_or_model_is_refused():
    with pytest.raises(SuperclusterError, match="valid: full, save_qkv_proj"):
        recompute_fraction(catalog.model("llama2-70b"), 4096, "save_everything")
    with pytest.raises(SuperclusterError, match="dense"):
        recompute_fraction(catalog.model("mixtral-8x7b"), 4096, "full")


def test_bundled_maxtext_rows_carry_their_policys_share():
    """Every MaxText row in the FSDP set prices the policy its recipe ran (named in its notes) at the share above,
    to the two decimals the CSV keeps."""
    _, rows = read_rows("fsdp")
    maxtext = [r for r in rows if r["id"].startswith("dgxc-maxtext-")]
    assert len(maxtext) == 22
    for row in maxtext:
        policy = re.search(r"\b(save_dot_except_mlpwi|save_dot_except_mlp|save_qkv_proj)\b", row["notes"])
        assert policy, row["id"]
        expected = recompute_fraction(catalog.model(row["model"]), int(row["seq_len"]), policy.group(1))
        assert row["recompute"] == "full", row["id"]
        assert float(row["recompute_fraction"]) == pytest.approx(expected, abs=0.005), row["id"]
