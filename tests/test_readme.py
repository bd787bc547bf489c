"""The README as a new user reads it: every code block runs verbatim, and its quoted output is the code's output.

CI creates a fresh virtual environment and runs the README's install-and-test line verbatim (`.ci/run`); this
test then runs every other command of every code block, with the YAML example saved as the file the commands
name (`my_run.yaml`), in an empty folder, through the installed `supercluster` entry point. The pip installs
are what made this environment, and `python3 -m pytest` is this very run, so those two are the only parts not
re-run here. The summary the first command prints is compared line by line with the README's quoted output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# Parts of a command line that set up the environment this test runs in (see the module docstring).
SETUP = (re.compile(r"^python3 -m pip install\b"), re.compile(r"^python3 -m pytest\b"))


def blocks() -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in FENCE.findall(README.read_text(encoding="utf-8"))]


def script(body: str) -> str:
    """A bash block as the script to run: the environment set-up parts of its lines removed (see the module
    docstring), everything else verbatim, multi-line commands included."""
    out = []
    for line in body.splitlines():
        parts = line.split(" && ")
        kept = [p for p in parts if not any(s.match(p.strip()) for s in SETUP)]
        if len(kept) == len(parts):
            out.append(line)
        elif kept:
            out.append(" && ".join(p.strip() for p in kept))
    return "\n".join(out)


def yaml_example() -> str:
    found = [body for lang, body in blocks() if lang == "yaml"]
    assert len(found) == 1, "the README has one scenario example; the commands read it as my_run.yaml"
    return found[0]


def bash_scripts() -> list[str]:
    return [script(body) for lang, body in blocks() if lang == "bash"]


def run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_readme_has_the_commands_a_new_user_runs():
    scripts = bash_scripts()
    main_job = [line for line in scripts[0].splitlines() if line and not line.startswith("#")]
    assert main_job == ["supercluster report"]  # the main job, after its install; the tests are this run
    assert "supercluster sweep" in scripts[2] and "duckdb" in scripts[2]
    assert script("python3 -m pip install . && x\npython3 -m pytest\ny 'a\nb'") == "x\ny 'a\nb'"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("readme")
    (d / "my_run.yaml").write_text(yaml_example(), encoding="utf-8")
    return d


@pytest.mark.parametrize("body", bash_scripts(), ids=lambda b: f"block-{bash_scripts().index(b) + 1}")
def test_every_readme_code_block_runs_verbatim(body: str, workdir: Path):
    r = run(body, workdir)
    assert r.returncode == 0, f"{body}\n{r.stderr[-2000:]}"
    assert r.stdout.strip(), body
    if "supercluster report" in body:
        assert (workdir / "report.html").stat().st_size > 100_000
        quoted = next(body for lang, body in blocks() if not lang and body.startswith("supercluster report:"))
        printed = [line.rstrip() for line in r.stdout.splitlines() if line.strip()]
        assert printed == [line.rstrip() for line in quoted.splitlines()], (
            "the README quotes the report's summary; paste the new output:\n" + "\n".join(printed)
        )
