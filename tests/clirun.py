"""Run the command line in-process (as `supercluster ARGS` would) and check the reliability contract."""

from __future__ import annotations

import io
import json
import math
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from supercluster.cli import run


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float


def invoke(*args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = run([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue(), time.perf_counter() - t0)


def _finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def check_contract(r: Result, limit_s: float = 20.0) -> None:
    """Exit 0 or 2, no traceback, one line on stderr with 2, no NaN or infinity in JSON, within the limit."""
    assert r.code in (0, 2), (r.code, r.err[-2000:])
    assert "Traceback" not in r.out + r.err, r.err[-2000:]
    if r.code == 2:
        assert len(r.err.strip().splitlines()) == 1 and r.err.startswith("error: "), r.err
    assert r.seconds < limit_s, r.seconds
    text = r.out.strip()
    if r.code == 0 and text.startswith(("{", "[")):
        data = json.loads(text)  # json.loads reads NaN and Infinity; they must not be there
        assert _finite(data), text[:2000]


def ok(*args: str, limit_s: float = 20.0) -> Result:
    r = invoke(*args)
    check_contract(r, limit_s)
    assert r.code == 0, r.err
    return r


def bad(*args: str, needles: tuple[str, ...] = (), limit_s: float = 20.0) -> Result:
    r = invoke(*args)
    check_contract(r, limit_s)
    assert r.code == 2, (r.out[-1000:], r.err)
    for n in needles:
        assert n in r.err, (n, r.err)
    return r
