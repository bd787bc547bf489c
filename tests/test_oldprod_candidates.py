"""scripts/oldprod_candidates.py (issue 14, older and production dense runs): its sizes, by hand."""

import pytest


@pytest.fixture(scope="module")
def oc(load_script):
    return load_script("oldprod_candidates")


def test_megascale_misc_saving_from_table3(oc):
    """MegaScale Table 3, (6) 61.2% -> (7) 62.3% MFU on the 14.815 s baseline at 47.7%: 14.815 x 0.477 = 7.0667
    MFU-seconds; 7.0667 x (1/0.612 - 1/0.623) = 7.0667 x (1.63399 - 1.60514) = 7.0667 x 0.028850 = 0.2039 s."""
    assert oc.data_misc_s() == pytest.approx(0.2039, abs=1e-3)


def test_published_shares(oc):
    """torchtitan PR #148: "~1.5% per iter"; MegaScale 6.3: "approximate 0.7% improvement in MFU", 0.7 points at
    55% MFU = 1.27% of a step."""
    assert oc.GC_SHARE == 0.015
    assert pytest.approx(0.01273, abs=1e-4) == oc.STRAGGLER_SHARE


def test_nemotron_param_gather_by_hand(oc):
    """Nemotron-4 340B at TP 8, PP 12, DP 16: 341,022,081,024 / 96 = 3.5523e9 parameters per model-parallel rank;
    an unoverlapped bf16 all-gather brings 15/16 of 2 x 3.5523e9 B = 6.6606e9 B over 47 GB/s = 0.1417 s."""
    from supercluster.validate.harness import read_rows

    _, rows = read_rows("all")
    row = next(r for r in rows if r["id"] == "nemotron4-340b-t2-1536")
    c = oc.candidates(row)
    assert c["param_gather_s"] == pytest.approx(0.1417, abs=1e-3)
    assert c["tied_embed_s"] == 0.0 and c["fp16_check_s"] == 0.0  # untied, BF16
    # the gap is the measured 10.3 s step less the model's (1.28 s at 5372a75, the script's dated findings; the fused
    # cross-entropy and deferred head wgrad of the NeMo profiles shortened the modelled step since), and the
    # code-derived candidates stay well below it: the script's finding
    assert c["gap_s"] == pytest.approx(float(row["value"]) - c["step_s"], abs=2e-3)
    assert c["code_sum_s"] < 0.35 * c["gap_s"]
