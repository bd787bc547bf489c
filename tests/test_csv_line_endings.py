"""Every bundled validation CSV keeps one line ending throughout: rows appended with another ending show up in diffs
as whole-file churn and hide what a change really touched."""

from __future__ import annotations

from importlib import resources

import pytest

DATA = resources.files("supercluster.validate.data")
CSVS = sorted(p.name for p in DATA.iterdir() if p.name.endswith(".csv"))


@pytest.mark.parametrize("name", CSVS)
def test_one_line_ending_per_file(name):
    raw = DATA.joinpath(name).read_bytes()
    lines = raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n")
    crlf = sum(1 for line in lines if line.endswith(b"\r"))
    assert crlf in (0, len(lines)), f"{name}: {crlf} of {len(lines)} lines end in CRLF, the rest in LF"
