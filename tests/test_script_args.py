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


def test_check_command_line_refuses_what_a_script_would_misread(sa) -> None:
    usage = "x.py OUT.json [--only FAMILY] [--fast]"
    # accepted: a path, a flag, a valued option with its value
    sa.check_command_line(["out.json", "--fast", "--only", "b200"], usage, ("--fast",), ("--only",), (1, 1))
    # an unknown option would have been written to as a file
    with pytest.raises(SuperclusterError, match=r"unknown option '--bogus'; usage: x\.py"):
        sa.check_command_line(["--bogus"], usage, ("--fast",), ("--only",), (0, 1))
    with pytest.raises(SuperclusterError, match=r"option '--only' needs a value"):
        sa.check_command_line(["out.json", "--only"], usage, (), ("--only",), (1, 1))
    # a missing positional argument would have been an IndexError
    with pytest.raises(SuperclusterError, match=r"takes 1 positional argument\(s\), got 0"):
        sa.check_command_line([], usage, (), (), (1, 1))
    with pytest.raises(SuperclusterError, match=r"takes 0 to 1 positional argument\(s\), got 2"):
        sa.check_command_line(["a.json", "b.json"], usage)


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.parametrize(
    "path", sorted(p for p in SCRIPTS.glob("*.py") if "sys.argv" in p.read_text(encoding="utf-8")), ids=lambda p: p.name
)
def test_every_script_that_reads_its_command_line_checks_it(path: Path) -> None:
    """A script reading sys.argv goes through script_args (run with parse, or guarded), so an unknown option ends in
    one line and exit 2 rather than a file named after it or a traceback."""
    text = path.read_text(encoding="utf-8")
    if path.name in ("script_args.py", "zoolong_variants.py"):
        # script_args is the checker; zoolong_variants re-runs itself as a child with refit_protocol's own options
        return
    assert "guarded(" in text or "run(main, sys.argv[1:])" in text
