"""The command line as a user meets it: tables, --json, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "supercluster.cli"]


def sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def test_default_estimate_prints_a_table():
    out = sh("estimate", "--no-color")
    assert out.returncode == 0, out.stderr
    assert "colossus-grok" in out.stdout and "MFU" in out.stdout and "time to train" in out.stdout


def test_estimate_json_for_meta_run():
    out = sh("estimate", "--scenario", "llama3-405b-16k", "--json")
    d = json.loads(out.stdout)
    assert d["gpus"] == 16384 and d["layout"].startswith("tp8+sp pp16")
    assert 0.3 < d["mfu"] < 0.5
    assert d["memory"]["fits"] is True


def test_flags_override_a_scenario():
    out = sh(
        "estimate",
        "--model",
        "llama3-8b",
        "--system",
        "dgx-h100-superpod",
        "--gpus",
        "64",
        "--tp",
        "2",
        "--pp",
        "1",
        "--global-batch",
        "128",
        "--json",
    )
    d = json.loads(out.stdout)
    assert d["model"] == "llama3-8b" and d["layout"].startswith("tp2")


def test_validate_json():
    d = json.loads(sh("validate", "--json").stdout)
    assert d["summary"]["n"] >= 49 and d["summary"]["mape_pct"] is not None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["estimate", "--system", "nope"], "unknown system preset 'nope'; valid:"),
        (
            [
                "estimate",
                "--model",
                "llama3-70b",
                "--system",
                "dgx-h100-superpod",
                "--gpus",
                "1000",
                "--tp",
                "8",
                "--pp",
                "4",
            ],
            "= 32 does not divide gpus(1000)",
        ),
        (
            ["estimate", "--model", "llama3-70b", "--system", "dgx-h100-superpod", "--tp", "3"],
            "valid tp: [1, 2, 4, 8]",
        ),
        (["estimate", "--scenario", "missing.yaml"], "scenario file not found"),
        (["estimate", "--global-batch", "0"], "global_batch"),
        (["validate", "nothere.csv"], "not found"),
        (["presets", "gpus"], "unknown catalog kind"),
        (["estimate", "--software", "jax-2030"], "valid: automodel-2025"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    out = sh(*args)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_software_flag_prices_the_stack():
    args = ["estimate", "--scenario", "llama3-405b-16k", "--json"]
    base = json.loads(sh(*args).stdout)
    fsdp = json.loads(sh(*args, "--software", "fsdp-2024").stdout)
    assert base["software"] == "llama3-meta-2024" and fsdp["software"] == "fsdp-2024"
    assert fsdp["step_time_s"] != base["step_time_s"]


def test_malformed_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("workload: {model: llama3-8b\nsystem: [")
    out = sh("estimate", "--scenario", str(bad))
    assert out.returncode == 2 and "malformed YAML" in out.stderr and "line" in out.stderr


def test_unknown_key_in_plan(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "workload: {model: llama3-8b, global_batch: 64}\nsystem: dgx-h100-superpod\ngpus: 64\n"
        "plan: {tp: 8, pp: 2, foo: 1}\n"
    )
    out = sh("estimate", "--scenario", str(f))
    assert out.returncode == 2 and "foo" in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["estimate"],
        ["plan", "-s", "llama3-405b-16k"],
        ["validate"],
        ["top500"],
        ["facility"],
        ["fabric"],
        ["presets"],
        ["compare"],
    ],
    ids=lambda a: a[0],
)
def test_tables_fit_an_80_column_terminal(args, monkeypatch):
    """Tables take the terminal's width (COLUMNS), not a fixed 120: at 80 columns no line is longer."""
    from clirun import invoke

    monkeypatch.setenv("COLUMNS", "80")
    r = invoke(*args)
    assert r.code == 0, r.err
    assert max(len(line) for line in r.out.splitlines()) <= 80


def test_no_color_is_plain_text_even_on_a_terminal(monkeypatch):
    """--no-color writes no escape code at all (rich's no_color alone keeps bold and italic), even where rich
    believes it drives a terminal (FORCE_COLOR); every command takes the flag."""
    from clirun import invoke

    monkeypatch.setenv("FORCE_COLOR", "1")
    for args in (["estimate"], ["top500"], ["validate"], ["presets"]):
        r = invoke(*args, "--no-color")
        assert r.code == 0 and "\x1b" not in r.out, args
    colored = invoke("estimate")
    assert "\x1b" in colored.out  # the check can fail: without the flag a forced terminal gets escapes
    import typer.main

    from supercluster.cli import app

    for command in typer.main.get_command(app).commands.values():
        assert any("--no-color" in p.opts for p in command.params), command.name


def test_mfu_names_its_denominator_and_fp8_is_measured_against_the_fp8_peak(monkeypatch):
    """An FP8 layout's MFU divides by the dense FP8 peak (1,979 TFLOP/s on H100 SXM, NVIDIA H100 datasheet,
    without sparsity), and the BF16-peak figure (989 TFLOP/s) is carried beside it, in JSON and in the table."""
    from clirun import invoke

    args = ("estimate", "--model", "llama3-70b", "--system", "dgx-h100-superpod", "--gpus", "64", "--tp", "8")
    d = json.loads(invoke(*args, "--precision", "fp8", "--json").out)
    assert d["mfu_peak_precision"] == "fp8" and d["mfu_peak_tflops_per_gpu"] == pytest.approx(1979, rel=0.01)
    # same model FLOP/s over two peaks: the ratio is the ratio of the peaks
    assert d["mfu_bf16_peak"] / d["mfu"] == pytest.approx(1979 / 989, rel=0.01)
    assert d["mfu"] == pytest.approx(d["model_tflops_per_gpu"] / 1979, rel=0.01)
    monkeypatch.setenv("COLUMNS", "200")  # one line per row, so the phrase is not wrapped
    table = invoke(*args, "--precision", "fp8", "--no-color").out
    assert "of dense FP8 peak" in table and "of BF16 peak" in table
    bf16 = json.loads(invoke(*args, "--precision", "bf16", "--json").out)
    assert bf16["mfu_peak_precision"] == "bf16" and bf16["mfu"] == bf16["mfu_bf16_peak"]


def test_defaults_the_user_did_not_choose_are_listed_and_parameters_printed():
    from clirun import invoke

    d = json.loads(invoke("estimate", "--model", "llama3-70b", "--json").out)
    listed = {a["what"]: a["value"] for a in d["scenario_assumptions"]}
    assert listed["system"].startswith("colossus-100k") and "global batch" in listed
    assert d["params_total"] == d["params_active"] and 69e9 < d["params_total"] < 72e9  # Llama 3 70B
    moe = json.loads(invoke("estimate", "--json").out)
    assert moe["scenario_assumptions"][0]["what"] == "scenario"
    assert moe["params_active"] < moe["params_total"]  # Grok-1: 314B total (xAI), a quarter active
    assert "parameters" in invoke("estimate", "--no-color").out


def test_help_names_every_option_whole_and_flags_take_no_metavar(monkeypatch):
    """At 80 columns the help of every command prints each option's full name (rich's panels cut
    --checkpoint-interval-min to '--checkpoint-interval…') and a flag shows no '<bool>' value."""
    import typer.main
    from clirun import invoke

    from supercluster.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    for name, command in typer.main.get_command(app).commands.items():
        out = invoke(name, "--help").out
        assert "…" not in out and "<bool>" not in out, name
        for p in command.params:
            for opt in p.opts:
                if opt.startswith("--"):
                    assert opt in out, (name, opt)


def test_an_unknown_validation_set_names_the_bundled_sets():
    out = sh("validate", "no-such-set")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1
    assert "validation CSV not found: no-such-set" in out.stderr
    assert "published" in out.stderr and "all" in out.stderr


def test_an_absurd_token_count_is_refused_in_one_line():
    # 1e40 tokens is a typo: the largest `limits` budget (1e36 FLOP) trains about 1.8e18 tokens compute-optimally
    out = sh("estimate", "--scenario", "llama3-405b-16k", "--train-tokens", "1e40")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "train_tokens" in out.stderr
    ok = sh("estimate", "--scenario", "llama3-405b-16k", "--train-tokens", "1e19", "--json")
    assert ok.returncode == 0, ok.stderr
