"""One error type for every problem the user can fix.

The CLI turns a :class:`SuperclusterError` into one line on stderr and exit
status 2. Anything else is a bug: the CLI still prints one line (naming it as a
bug and how to get the traceback: SUPERCLUSTER_TRACEBACK=1) and exits 2.
"""


class SuperclusterError(ValueError):
    """Bad input: unknown preset, impossible layout, malformed file, out-of-range value."""


class UnknownPresetError(SuperclusterError):
    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        shown = ", ".join(sorted(valid))
        super().__init__(f"unknown {kind} preset '{name}'; valid: {shown}")
