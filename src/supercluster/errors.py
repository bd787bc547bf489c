"""One error type for every problem the user can fix.

The CLI turns a :class:`SuperclusterError` into one line on stderr and exit
status 2; anything else is a bug and keeps its traceback.
"""


class SuperclusterError(ValueError):
    """Bad input: unknown preset, impossible layout, malformed file, out-of-range value."""


class UnknownPresetError(SuperclusterError):
    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        shown = ", ".join(sorted(valid))
        super().__init__(f"unknown {kind} preset '{name}'; valid: {shown}")
