"""Property-based fuzzing of the command line, in-process: generated flags, scenario files, calibration profiles
and CSVs, valid and invalid. Every case exits 0 or 2, never prints a traceback, says what is wrong in one line on
stderr when it exits 2, prints no NaN or infinity in JSON, and finishes within its time bound.

Sized for CI (about 2,300 cases in well under two minutes on two cores); FUZZ_SCALE=10 runs ten times as many.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

import yaml
from clirun import check_contract, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supercluster.specs import PlanSpec

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
LIMIT_S = 20.0


def cases(n: int) -> settings:
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,  # the contract's own time bound applies (check_contract)
        derandomize=True,  # the same cases every run in CI; FUZZ_SCALE > 1 explores further
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


HOSTILE = ["", " ", "[/bold]", "[red]x", "\x1b[31mred", "\x1b]0;t\x07", "é", "a\nb", "-1", "nan", "inf", "../x"]
INTS = ["1", "2", "3", "4", "8", "16", "64", "128", "0", "-1", "7", "1000", "64.9", "1e3", "inf", "nan", "x"]
BIG_INTS = ["1000000000000", "10000000", "2147483648", "99999999999999999999999"]
FLOATS = ["0", "0.5", "1", "5", "30", "1e10", "1e12", "-5", "nan", "inf", "-inf", "1e308", "x", "1e-300"]
MODELS = ["llama3-8b", "llama2-7b", "mixtral-8x7b", "gpt3-5b", "qwen3-30b-a3b", "gpt-oss-20b", "nope", "[/x]"]
SYSTEMS = ["dgx-h100-superpod", "dgx-a100-superpod", "h200-cluster", "mi300x-cluster", "gb200-nvl72-cluster"]
SYSTEMS_ALL = [*SYSTEMS, "colossus-100k", "frontier", "aurora", "eagle", "nope"]
GPUS = ["8", "16", "32", "64", "128", "256", "1", "0", "-8", "63", "100", "1e2", "64.5", *BIG_INTS]


def value(choices: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(choices), st.sampled_from(HOSTILE), st.integers(-3, 10**6).map(str))


def flags(table: dict[str, st.SearchStrategy[str]], min_size: int = 0) -> st.SearchStrategy[list[str]]:
    """A command's options: a random subset, each with a generated value (None: a switch without a value)."""
    keys = sorted(table)
    if not keys:
        return st.just([])

    @st.composite
    def build(draw: st.DrawFn) -> list[str]:
        chosen = draw(st.lists(st.sampled_from(keys), min_size=min_size, max_size=6, unique=True))
        out: list[str] = []
        for k in chosen:
            out.append(k)
            v = draw(table[k])
            if v is not None:
                out.append(v)
        return out

    return build()


NONE = st.none()
JOB = {
    "--model": value(MODELS),
    "--system": value(SYSTEMS),
    "--gpus": value(GPUS),
    "--global-batch": value(["8", "16", "64", "256", "1024", "7"]),
    "--seq-len": value(["512", "1024", "2048", "4096", "1000"]),
}
LAYOUT = {
    "--tp": value(INTS),
    "--pp": value(INTS),
    "--vpp": value(INTS),
    "--cp": value(INTS),
    "--ep": value(INTS),
    "--dp": value(INTS),
    "--zero": value(["0", "1", "2", "3", "4"]),
    "--micro-batch": value(INTS),
    "--local-batch": value(INTS),
    "--recompute": value(["none", "selective", "full", "some"]),
    "--precision": value(["bf16", "fp8", "mxfp8", "nvfp4", "fp64"]),
    "--sp": NONE,
    "--no-sp": NONE,
    "--software": value(["megatron-core-2024", "fsdp-2024", "nemo-2024", "jax"]),
    "--train-tokens": value(FLOATS),
}
SMALL_JOB = ["--model", "llama3-8b", "--system", "dgx-h100-superpod", "--gpus", "64", "--global-batch", "64"]


@st.composite
def job_command(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["estimate", "estimate", "plan", "facility"]))
    base = SMALL_JOB  # a generated flag given again overrides it; the default scenario (98,304 GPUs) is slow
    table = {**JOB, **(LAYOUT if command != "facility" else {"--train-tokens": value(FLOATS)})}
    if command == "plan":
        table |= {"--top": value(["1", "3", "0", "101"]), "--headroom-gib": value(FLOATS), "--no-fp8": NONE}
        table |= {"--explain": value(["tp8 pp1", "tp2 pp2 mb1", "bogus", "tp0"])}
    if command == "facility":
        table |= {"--buildout": NONE, "--no-buildout": NONE}
    return [command, *base, *draw(flags(table)), "--json"]


@given(job_command())
@cases(650)
def test_fuzz_job_commands(args):
    check_contract(invoke(*args), LIMIT_S)


@st.composite
def fast_command(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["fabric", "top500", "collective", "collective", "presets", "version", "nope"]))
    if draw(st.integers(0, 19)) == 0:  # compare plans four systems: a few cases
        command = "compare"
    tables: dict[str, dict[str, st.SearchStrategy[str]]] = {
        "fabric": {"--system": value(SYSTEMS_ALL), "--gpus": value(GPUS)},
        "top500": {"--system": value(SYSTEMS_ALL), "--gpus": value(GPUS), "--list": value(["nov-2025", "jun-2024"])},
        "collective": {
            "--system": value(SYSTEMS_ALL),
            "--op": value(["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "p2p", "x"]),
            "--bytes": value(FLOATS),
            "--gpus": value(GPUS),
            "--stride": value(INTS),
        },
        "compare": {
            "--systems": value(["dgx-h100-superpod,dgx-b200-superpod", "h200-cluster", "x,y"]),
            "--equal": value(["gpus", "power", "cost"]),
            "--gpus": value(["64", "1024", "0", "7", *BIG_INTS]),
            "--scenario": value(["llama3-405b-16k", "nope"]),
            "--model": value(["llama3-8b", "nope"]),
            "--available": value(["h100=2024-07,b200=2025-03", "catalog", "h100=2024-13", "x=2024-01", "h100"]),
            "--start": value(["2024-01", "2024-02-30", "1999-01"]),
            "--bring-up-days": value(["19", "h100=0,gb200=60", "-1", "nan"]),
        },
        "presets": {},
        "version": {},
        "nope": {"--x": value(INTS)},
    }
    extra = draw(st.sampled_from([[], ["accelerators"], ["gpus"], ["[/b]"]])) if command == "presets" else []
    out = [command, *extra, *draw(flags(tables[command]))]
    return [*out, "--json"] if command not in ("version", "nope") and draw(st.booleans()) else out


@given(fast_command())
@cases(400)
def test_fuzz_fast_commands(args):
    check_contract(invoke(*args), LIMIT_S)


@st.composite
def simulate_command(draw: st.DrawFn) -> list[str]:
    table = {
        **JOB,
        "--trials": value(["1", "5", "20", "0", "100001"]),
        "--seed": value(["0", "1", "-1", "99999999999999999999"]),
        "--days": value(FLOATS),
        "--tokens": value(FLOATS),
        "--checkpoint-interval-min": value(FLOATS),
        "--sync-checkpoint": NONE,
        "--spares": value(INTS),
        "--rate-scale": value(FLOATS),
    }
    args = ["simulate", *SMALL_JOB, "--trials", "5", *draw(flags(table)), "--no-analysis", "--json"]
    if "--days" not in args and "--tokens" not in args:
        args += ["--tokens", "1e10"]
    return args


@given(simulate_command())
@cases(200)
def test_fuzz_simulate(args):
    check_contract(invoke(*args), LIMIT_S)


# ---- files -------------------------------------------------------------------------------------------------------

ANY_SCALAR = st.one_of(
    st.integers(-(10**13), 10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["llama3-8b", "dgx-h100-superpod", "[/bold]", "\x1b[2J", "8", "1e3"]),
)
SMALL_INT = st.one_of(st.sampled_from([1, 2, 4, 8, 16, 64]), ANY_SCALAR)
VALUE = st.recursive(
    ANY_SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def scenario_mapping(draw: st.DrawFn) -> dict:
    workload = {
        "model": draw(
            st.one_of(
                st.sampled_from(MODELS),
                VALUE,
                st.fixed_dictionaries(
                    {"preset": st.sampled_from(MODELS)},
                    optional={"name": ANY_SCALAR, "layers": SMALL_INT, "moe_experts": SMALL_INT},
                ),
            )
        ),
        "global_batch": draw(st.one_of(st.sampled_from([16, 64, 256]), ANY_SCALAR)),
    }
    for key in ("seq_len", "train_tokens"):
        if draw(st.booleans()):
            workload[key] = draw(st.one_of(st.sampled_from([1024, 2048, 1e12]), ANY_SCALAR))
    data: dict = {"workload": draw(st.one_of(st.just(workload), VALUE)) if draw(st.integers(0, 9)) == 0 else workload}
    data["system"] = draw(
        st.one_of(
            st.sampled_from(SYSTEMS),
            VALUE,
            st.fixed_dictionaries({"preset": st.sampled_from(SYSTEMS)}, optional={"gpus": SMALL_INT}),
        )
    )
    data["gpus"] = draw(st.one_of(st.sampled_from([8, 16, 64, 128]), ANY_SCALAR))
    plan_keys = sorted(PlanSpec.model_fields)  # every knob a scenario's plan may hold
    data["plan"] = draw(st.one_of(st.dictionaries(st.sampled_from(plan_keys), SMALL_INT, max_size=5), VALUE))
    for key in ("name", "description", "software", "reliability", "facility", "assumptions", "extra"):
        if draw(st.integers(0, 5)) == 0:
            data[key] = draw(VALUE)
    return data


def _tmp(text: str | bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


RAW_TEXT = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.sampled_from(
        ["[[[[[[", "a: &a [1]\nb: *a\nc: *b", "{", "- - - -", "\ufeffworkload: 1", "!!python/object:os.system x"]
    ),
)


@given(st.one_of(scenario_mapping(), RAW_TEXT), st.sampled_from(["estimate", "plan", "facility", "simulate"]))
@cases(400)
def test_fuzz_scenario_files(content, command):
    if isinstance(content, dict):
        try:
            content = yaml.safe_dump(content, allow_unicode=True)
        except yaml.YAMLError:
            content = str(content)
    path = _tmp(content, ".yaml")
    try:
        extra = ["--trials", "3", "--no-analysis"] if command == "simulate" else []
        check_contract(invoke(command, "--scenario", path, *extra, "--json"), LIMIT_S)
    finally:
        os.unlink(path)


PROFILE = Path(__file__).resolve().parents[1] / "calibration" / "h200-sxm-141gb-2026-11-30.yaml"


@functools.cache
def _profile() -> str:
    """The measured profile with two points per measurement list (the efficiency table is what is fuzzed)."""
    data = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    for key, v in data.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            data[key] = v[:2]
    return json.dumps(data)


FRACTION = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, 0.5, -0.5, 1e9]), ANY_SCALAR
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "gemm_tile_dim",
                "attention_fwd_fraction",
                "attention_bwd_fraction",
                "hbm_fraction",
                "fp8_overhead_fraction",
                "bf16",
                "fp8",
                "accelerator",
                "peak_tflops",
                "gemm",
            ]
        ),
        FRACTION,
        max_size=3,
    )
)
@cases(200)
def test_fuzz_calibration_profiles(changes):
    data = json.loads(_profile())
    for key, v in changes.items():
        if key in ("bf16", "fp8"):
            data["efficiency"]["gemm_peak_fraction"][key] = v
        elif key in ("accelerator", "peak_tflops", "gemm"):
            data[key] = v
        else:
            data["efficiency"][key] = v
    path = _tmp(yaml.safe_dump(data, allow_unicode=True), ".yaml")
    try:
        job = ["--model", "llama3-8b", "--system", "h200-cluster", "--gpus", "64", "--global-batch", "64"]
        check_contract(invoke("estimate", *job, "--calibration", path, "--json"), LIMIT_S)
    finally:
        os.unlink(path)


@given(st.one_of(RAW_TEXT, st.lists(st.text(alphabet='abc,\n"', max_size=20), max_size=4).map("\n".join)))
@cases(150)
def test_fuzz_csv_files(content):
    path = _tmp(content, ".csv")
    try:
        check_contract(invoke("validate", path, "--json"), LIMIT_S)
    finally:
        os.unlink(path)


def test_fuzz_cases_add_up_to_two_thousand():
    assert 650 + 400 + 200 + 400 + 200 + 150 >= 2000
    assert json.dumps({"ok": True})
