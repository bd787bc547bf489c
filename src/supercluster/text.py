"""User-provided text made safe to print: one line, no terminal control sequences."""

from __future__ import annotations

import math
import re
from typing import Any

# ANSI CSI / OSC / other escape sequences, then any remaining C0 or C1 control character and DEL.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(value: str) -> str:
    """``value`` without terminal escape sequences; other control characters (newlines included) become spaces."""
    return _CONTROL.sub(" ", _ESCAPES.sub("", value))


def one_line(value: str) -> str:
    """A message as one printable line."""
    return " ".join(clean(value).split())


def finite_data(data: Any) -> Any:
    """A JSON-like structure with every NaN or infinite float replaced by None (JSON null)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite_data(v) for v in data]
    if hasattr(data, "item") and hasattr(data, "dtype"):  # numpy scalars
        return finite_data(data.item())
    return data


def clean_data(data: Any) -> Any:
    """Every string in a JSON-like structure (keys included) cleaned for the terminal."""
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, dict):
        return {clean_data(k): clean_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [clean_data(v) for v in data]
    return data
