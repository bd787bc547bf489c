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


def check_command_line(
    argv: Sequence[str],
    usage: str,
    flags: Sequence[str] = (),
    valued: Sequence[str] = (),
    paths: tuple[int, int | None] = (0, 1),
) -> None:
    """Refuse a command line a script with its own argument reading would misread: an unknown option (it would be
    taken as an output path, or ignored), an option that needs a value given none, or too few or too many
    positional arguments (an IndexError). ``flags`` take no value, ``valued`` take the next argument, ``paths`` is
    the (least, most) number of positional arguments (most None: any). Raises SuperclusterError quoting ``usage``."""
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in valued:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise SuperclusterError(f"option '{arg}' needs a value; usage: {usage}")
            i += 2
            continue
        if arg.startswith("-") and arg != "-":
            if arg not in flags:
                raise SuperclusterError(f"unknown option '{arg}'; usage: {usage}")
        else:
            positional.append(arg)
        i += 1
    least, most = paths
    if len(positional) < least or (most is not None and len(positional) > most):
        wanted = f"{least}" if least == most else f"{least} to {most}" if most is not None else f"at least {least}"
        raise SuperclusterError(f"takes {wanted} positional argument(s), got {len(positional)}; usage: {usage}")


def guarded(
    main: Callable[[], Any],
    usage: str,
    flags: Sequence[str] = (),
    valued: Sequence[str] = (),
    paths: tuple[int, int | None] = (0, 1),
) -> None:
    """Run a script whose ``main()`` reads ``sys.argv`` itself, after :func:`check_command_line`; bad input (and any
    SuperclusterError the script raises) ends it with one line on stderr and exit 2, as :func:`run`; a non-zero int
    that ``main()`` returns is the exit status."""

    def checked(argv: list[str]) -> None:
        check_command_line(argv, usage, flags, valued, paths)
        status = main()
        if isinstance(status, int) and status:  # a main that returns its exit status keeps it
            raise SystemExit(status)

    run(checked, sys.argv[1:])
