"""The attention re-judge tooling: scripts/refit_protocol.py's Hopper attention hold and FP8-refit scoring, and
scripts/attn_rejudge.py's summary of a protocol run (speed sign, MAPE, bands, tables over the limits)."""

import subprocess
import sys

import pytest

from supercluster import catalog


@pytest.fixture(scope="module")
def rp(load_script):
    return load_script("refit_protocol")


@pytest.fixture(scope="module")
def aj(load_script):
    return load_script("attn_rejudge")


def test_hopper_attention_hold_sets_every_hopper_card_and_no_other(rp):
    code = (
        "import sys; sys.path.insert(0, 'scripts');"
        "from refit_protocol import hold_hopper_attention;"
        "cards = hold_hopper_attention(0.4385, 0.2982);"
        "from supercluster import catalog;"
        "e = [catalog.accelerator(c).efficiency for c in ('h100-sxm-80gb', 'h200-sxm-141gb', 'a100-sxm-80gb')];"
        "print(sorted(cards)); print([(x.attention_fwd_fraction, x.attention_bwd_fraction) for x in e]);"
        "print(e[0].gemm_peak_fraction['bf16'])"
    )
    root = rp.__file__.rsplit("/scripts/", 1)[0]
    env = {"PYTHONPATH": f"{root}/src", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    cards, pairs, gemm = out.stdout.strip().splitlines()
    # the catalog's sm_arch-90 cards (Hopper: H100 SXM/PCIe/HBM2e, H800, H200), and only they
    hopper = sorted(n for n in catalog.names("accelerators") if catalog.accelerator(n).sm_arch == 90)
    assert {"h100-sxm-80gb", "h200-sxm-141gb"} <= set(hopper) and cards == str(hopper)
    # H100 SXM and H200 take the held pair; the A100 keeps its own 0.70 / 0.60
    assert pairs == str([(0.4385, 0.2982), (0.4385, 0.2982), (0.7, 0.6)])
    # the rest of the H100 SXM's table (its own BF16 GEMM fraction over the shared Hopper one) is untouched
    assert float(gemm) == catalog.accelerator("h100-sxm-80gb").efficiency.gemm_peak_fraction["bf16"]


def test_hopper_attention_hold_refuses_once_accelerators_are_built(rp):
    catalog.accelerator("h100-sxm-80gb")  # the cache now holds a table the hold could not reach
    with pytest.raises(RuntimeError, match="before any accelerator"):
        rp.hold_hopper_attention(0.3, 0.225)


def test_fp8_refit_replaces_only_the_named_cards_fp8_fraction(rp):
    h100 = catalog.accelerator("h100-sxm-80gb").efficiency
    b200 = catalog.accelerator("b200").efficiency
    out = rp._with_fp8({"h100-sxm-80gb": h100, "b200": b200}, {"h100-sxm-80gb": 0.60})
    assert out["h100-sxm-80gb"].gemm_peak_fraction == {**h100.gemm_peak_fraction, "fp8": 0.60}
    assert out["b200"] is b200
    assert rp._with_fp8({"b200": b200}, None)["b200"] is b200


def test_speed_error_sign(aj):
    # a step time predicted 25% long is a model 20% too slow: 1 / 1.25 - 1 = -0.20; throughput rows keep their sign
    assert aj.speed_error("step_time_s", 25.0) == pytest.approx(-20.0)
    assert aj.speed_error("tokens_per_s_per_gpu", -7.0) == -7.0


def test_summary_of_a_run(aj):
    def row(i: str, table: str, ins: float, loso: float) -> dict:
        return {"id": i, "gpu": "h100-sxm-80gb", "doc": table, "table": table, "catalog": ins, "in_sample": ins,
                "loso": loso}  # fmt: skip

    run = {
        "score": {"rows": [row("r1", "T1", 10.0, 20.0), row("r2", "T2", -4.0, -6.0), row("m", "T2", 0.0, 0.0)]},
        "whole_set": {"h100-sxm-80gb": {"refit_gemm_fraction": 0.69}},
        "whole_set_attention": {"h100-sxm-80gb": 0.28},
    }
    meta = {
        "r1": {"metric": "tokens_per_s_per_gpu", "group": "bf16 dense throughput", "band": "< 256"},
        "r2": {"metric": "step_time_s", "group": "bf16 dense throughput", "band": "< 256"},
        "m": {"metric": "memory", "group": "memory", "band": "(unknown)"},
    }
    s = aj.summarise(run, meta, published={"r2", "m"})
    # throughput rows only: (10 + 4) / 2 = 7 in sample, (20 + 6) / 2 = 13 LOSO
    assert s["all"] == {"in_sample": 7.0, "loso": 13.0}
    # the published set with its memory row, as validate published reports it: (4 + 0) / 2 = 2, (6 + 0) / 2 = 3
    assert s["published"] == {"in_sample": 2.0, "loso": 3.0}
    # band signed speed mean in sample: r1 +10, r2 step time 4% short = 1 / 0.96 - 1 = +4.1667% fast
    assert s["bands"]["< 256"]["in_sample"]["signed_pct"] == pytest.approx((10.0 + 100 / 96 * 100 - 100) / 2, abs=1e-3)
    # LOSO per table over its throughput rows: T1 20 (> 12 and > 15), T2 6 (its memory row left out)
    assert s["tables_over"]["12.0"] == [("T1", 20.0)] and s["tables_over"]["15.0"] == [("T1", 20.0)]
    assert s["table_loso"]["T2"] == 6.0


def test_bad_command_line_is_one_line_not_a_traceback(aj, tmp_path):
    from supercluster.errors import SuperclusterError

    run = tmp_path / "run.json"
    run.write_text("{}")
    assert aj.parse_args(["out.json", f"base={run}"]) == ("out.json", {"base": str(run)})
    for argv, says in (
        ([], "expected an output path"),
        (["out.json"], "expected an output path"),
        (["out.json", "base"], "'base' is not LABEL=RUN.json"),
        (["out.json", "base="], "'base=' is not LABEL=RUN.json"),
        (["out.json", f"base={tmp_path / 'none.json'}"], "no run file"),
    ):
        with pytest.raises(SuperclusterError, match=says):
            aj.parse_args(argv)
