"""The command line of the diagnosis scripts: ``--json``, ``--no-color`` and, for a script that writes its document
to a file, one output path; anything else is refused in one line with what would be valid (exit 2), never ignored
and never met with a traceback (the project's rule for bad input, supercluster.errors).

Scripts import it as a sibling (``from script_args import emit, parse, run``), print through :func:`emit` and end in
``run(main, sys.argv[1:])``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from supercluster.errors import SuperclusterError

FLAGS = ("--json", "--no-color")
# exit status of a refused command line (as the CLI's, supercluster.cli)
USAGE_EXIT = 2


@dataclass(frozen=True)
class ScriptArgs:
    """What the command line asked for: JSON on stdout, plain tables, and the file to write the document to."""

    as_json: bool
    no_color: bool
    out: Path | None


def parse(argv: list[str], takes_out: bool = False) -> ScriptArgs:
    """``argv`` as :class:`ScriptArgs`; an unknown flag, a path where the script writes none, or more than one path
    raises SuperclusterError naming what is valid."""
    flags = [a for a in argv if a.startswith("-")]
    paths = [a for a in argv if not a.startswith("-")]
    unknown = [a for a in flags if a not in FLAGS]
    valid = ", ".join(FLAGS) + (" and one OUT.json path" if takes_out else "")
    if unknown:
        raise SuperclusterError(f"unknown option '{unknown[0]}'; valid: {valid}")
    if paths and not takes_out:
        raise SuperclusterError(f"unexpected argument '{paths[0]}'; valid: {valid}")
    if len(paths) > 1:
        raise SuperclusterError(f"more than one output path ({', '.join(paths)}); valid: {valid}")
    return ScriptArgs("--json" in flags, "--no-color" in flags, Path(paths[0]) if paths else None)


def run(main: Callable[[list[str]], None], argv: list[str]) -> None:
    """Run a script's ``main(argv)``; bad input (SuperclusterError) ends it with one line on stderr and exit 2."""
    try:
        main(argv)
    except SuperclusterError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(USAGE_EXIT) from None


def emit(args: ScriptArgs, doc: dict[str, Any], parts: Sequence[RenderableType]) -> None:
    """A script's output: ``doc`` as JSON on stdout under ``--json``, else ``parts`` in order (tables, and legend
    lines printed as plain text); ``doc`` is also written to ``args.out`` when one was given."""
    text = json.dumps(doc, indent=1)
    if args.as_json:
        print(text)
    else:
        console = Console(no_color=args.no_color)
        for part in parts:
            console.print(part, highlight=False)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
