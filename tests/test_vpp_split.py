"""Interleaved stages must divide the layers on stacks that assert an exact split (perf.vpp_split, issue 15)."""

from __future__ import annotations

import pytest
from clirun import invoke

from supercluster import catalog
from supercluster.errors import SuperclusterError
from supercluster.perf import vpp_split
from supercluster.plan import resolve
from supercluster.plan.space import SpaceOptions, enumerate_space
from supercluster.rules import check_vpp_split
from supercluster.specs import PlanSpec, WorkloadSpec

MCORE = "megatron-core-2024"


def test_megatron_core_divisibility_by_hand():
    sw = catalog.software(MCORE)
    assert sw.pp_split_exact
    # Mixtral 8x22B, 56 layers on pp 8: 56 / 8 = 7 layers per stage, 7 % 6 = 1 (refused), 7 % 7 = 0; with the two
    # account_for flags (56 + 2) / 8 = 7.25, no split
    assert not vpp_split.allows(sw, 56, 8, 6)
    assert vpp_split.allows(sw, 56, 8, 7)
    assert vpp_split.valid_vpps(sw, 56, 8, 16) == [1, 7]
    # pp 3: 56 % 3 = 2, but (56 + 2) / 3 = 58 / 3 no either; pp 2: 28 or 29 per rank
    assert vpp_split.valid_vpps(sw, 56, 3, 16) == [1]
    assert vpp_split.valid_vpps(sw, 56, 2, 16) == [1, 2, 4, 7, 14]
    # Llama 3 405B, 126 layers on pp 8: 126 % 8 = 6, but (126 + 2) / 8 = 16 with the flags: vpp 2, 4, 8, 16
    assert vpp_split.valid_vpps(sw, 126, 8, 16) == [1, 2, 4, 8, 16]
    # Grok-1, 64 layers on pp 2: 32 per stage (or 33 with the flags: 3, 11)
    assert vpp_split.valid_vpps(sw, 64, 2, 16) == [1, 2, 3, 4, 8, 11, 16]


def test_accounted_split_counts_the_ends():
    # Llama 3.1 405B with both account_for_* flags: (126 + 2) / 8 = 16 per rank; 16 % 8 = 0, 16 % 3 = 1
    sw = catalog.software("megatron-bridge-accounted-pp-2025")
    assert sw.pp_split == "accounted" and sw.pp_split_exact
    assert vpp_split.splits(sw) == ((1, 1),)
    assert vpp_split.allows(sw, 126, 8, 8) and not vpp_split.allows(sw, 126, 8, 3)
    # (126 + 2) % 3 = 2: the uniform accounted split refuses pp 3 even with one chunk per rank
    assert not vpp_split.allows(sw, 126, 3, 1)


def test_first_last_counts_must_divide_too():
    # NeMo's DeepSeek-V3: 61 layers, first stage one short, last two short: (61 + 1 + 2) / 4 = 16, so the ranks
    # hold 15/16/16/14 and vpp must divide 16, 15 and 14: only 1
    sw = catalog.software("nemo-2024-dsv3-first-last")
    assert vpp_split.splits(sw) == ((1, 2),)
    assert vpp_split.rank_counts(61, 4, (1, 2)) == (16, 15, 14)
    assert vpp_split.valid_vpps(sw, 61, 4, 16) == [1]


def test_free_stacks_split_freely():
    for name in ("fsdp-2024", "automodel-2025", "megatron-bridge-2025", "llama3-meta-2024"):
        sw = catalog.software(name)
        assert not sw.pp_split_exact
        assert vpp_split.allows(sw, 56, 8, 6) and vpp_split.space_rule(sw, 56) is None


def test_refusal_line_has_the_arithmetic():
    sw = catalog.software(MCORE)
    assert vpp_split.refusal(sw, 56, 8, 6) == (
        "vpp(6) must divide the layers per pipeline stage on megatron-core-2024, which asserts an exact split: "
        "56 / pp 8 = 7 or (56 + 2) / pp 8 = 7.25; valid vpp at pp 8: 1, 7"
    )
    nemo = catalog.software("nemo-2024")
    assert nemo.pp_split == "uniform"
    assert vpp_split.refusal(nemo, 56, 3, None) == (
        "pp(3) must divide the layers on nemo-2024, which asserts an exact split: 56 / pp 3 = 18.67 layers per "
        "stage; valid pp: 1, 2, 4, 7, 8, 14, 28, 56"
    )


def _mixtral():
    model = catalog.model("mixtral-8x22b")
    assert model.layers == 56
    return WorkloadSpec(model=model, seq_len=4096, global_batch=256)


def test_space_offers_only_dividing_vpps():
    wl = _mixtral()
    system = catalog.system("dgx-h100-superpod", gpus=128)
    sw = catalog.software(MCORE)
    fixed = PlanSpec(tp=2, pp=8, ep=8, precision="bf16")
    free = enumerate_space(wl, system, 128, fixed, SpaceOptions())
    exact = enumerate_space(wl, system, 128, fixed, SpaceOptions(), vpp_allows=vpp_split.space_rule(sw, 56))
    assert 6 in set(free.candidates.vpp.tolist())  # the generic rule: 8 x 6 = 48 <= 56 + 2
    assert set(exact.candidates.vpp.tolist()) == {1, 7}  # 7 is not among VPP_CHOICES but divides 56 / 8


def test_given_vpp_refused_with_exit_2():
    wl = _mixtral()
    sw = catalog.software(MCORE)
    with pytest.raises(SuperclusterError, match=r"vpp\(6\) must divide the layers per pipeline stage on megatron"):
        check_vpp_split(wl.model, PlanSpec(pp=8, vpp=6), sw)
    check_vpp_split(wl.model, PlanSpec(pp=8, vpp=7), sw)
    system = catalog.system("dgx-h100-superpod", gpus=128)
    with pytest.raises(SuperclusterError, match="valid vpp at pp 8: 1, 7"):
        resolve(PlanSpec(tp=2, pp=8, vpp=6, ep=8), wl, system, sw, 128)
    res = invoke(
        "estimate", "--model", "mixtral-8x22b", "--system", "dgx-h100-superpod", "--gpus", "128", "--software",
        MCORE, "--tp", "2", "--pp", "8", "--vpp", "6", "--ep", "8", "--no-color",
    )  # fmt: skip
    assert res.code == 2 and "56 / pp 8 = 7 or (56 + 2) / pp 8 = 7.25" in res.err


def test_refused_pp_lists_only_pps_the_given_vpp_runs_at():
    # accounted split, both flags: 80 + 2 = 82 layers, divisors <= 80: 1, 2, 41. At vpp 2, pp 1 cannot interleave,
    # pp 2 gives 41 layers per rank (odd), pp 41 gives 2 (even): only 41 runs vpp 2.
    sw = catalog.software("megatron-core-deepep-accounted-2025")
    assert sw.pp_split == "accounted" and sw.pp_accounted_layers == (1, 1)
    assert vpp_split.refusal(sw, 80, 6, 2).endswith("(80 + 2) / pp 6 = 13.67 layers per stage; valid pp at vpp 2: 41")
    assert vpp_split.refusal(sw, 80, 6, None).endswith("valid pp: 1, 2, 41")
    # 83 + 2 = 85 = 5 x 17: at vpp 2 both 17 (5 per rank) and 5 (17 per rank) are odd, so none runs
    assert vpp_split.refusal(sw, 83, 6, 2).endswith("valid pp at vpp 2: none")


def test_space_rule_is_allows_memoised():
    sw = catalog.software(MCORE)
    rule = vpp_split.space_rule(sw, 56)
    pairs = [(pp, vpp) for pp in (1, 2, 4, 7, 8, 14) for vpp in range(1, 17)]
    for _ in range(3):  # the planner asks again for every block of the other knobs
        assert [rule(pp, vpp) for pp, vpp in pairs] == [vpp_split.allows(sw, 56, pp, vpp) for pp, vpp in pairs]
    assert rule.cache_info().misses == len(pairs) and rule.cache_info().hits == 2 * len(pairs)
