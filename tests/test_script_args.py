"""scripts/script_args.py: the diagnosis scripts' command line, and one line with exit 2 on bad input."""

import json
from pathlib import Path

import pytest

from supercluster.errors import SuperclusterError


@pytest.fixture(scope="module")
def sa(load_script):
    return load_script("script_args")


def test_flags_and_path(sa) -> None:
    assert sa.parse([]) == sa.ScriptArgs(as_json=False, no_color=False, out=None)
    assert sa.parse(["--no-color", "--json"]) == sa.ScriptArgs(as_json=True, no_color=True, out=None)
    got = sa.parse(["out.json", "--json"], takes_out=True)
    assert (got.as_json, got.out) == (True, Path("out.json"))


def test_bad_input_is_one_line_naming_what_is_valid(sa) -> None:
    with pytest.raises(SuperclusterError, match=r"unknown option '--jsn'; valid: --json, --no-color$"):
        sa.parse(["--jsn"])
    # a script that writes no file takes no path (it used to be ignored)
    with pytest.raises(SuperclusterError, match=r"unexpected argument 'out\.json'"):
        sa.parse(["out.json"])
    with pytest.raises(SuperclusterError, match="more than one output path"):
        sa.parse(["a.json", "b.json"], takes_out=True)
    with pytest.raises(SuperclusterError, match=r"and one OUT\.json path"):
        sa.parse(["-x"], takes_out=True)


def test_run_turns_bad_input_into_exit_2(sa, capsys) -> None:
    def main(argv: list[str]) -> None:
        sa.parse(argv)
        print("ran")

    sa.run(main, [])
    assert capsys.readouterr().out == "ran\n"
    with pytest.raises(SystemExit) as exc:
        sa.run(main, ["--csv"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == "error: unknown option '--csv'; valid: --json, --no-color\n"


def test_emit_prints_json_or_tables_and_writes_the_file(sa, capsys, tmp_path) -> None:
    doc = {"rows": [{"id": "r1", "k": None}]}
    out = tmp_path / "doc.json"
    sa.emit(sa.ScriptArgs(as_json=True, no_color=True, out=out), doc, ["legend line"])
    printed = capsys.readouterr().out
    assert json.loads(printed) == doc and "legend line" not in printed
    assert json.loads(out.read_text(encoding="utf-8")) == doc
    sa.emit(sa.ScriptArgs(as_json=False, no_color=True, out=None), doc, ["legend line"])
    assert capsys.readouterr().out == "legend line\n"
