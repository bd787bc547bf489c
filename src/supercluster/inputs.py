"""Reading what a user hands in: files as UTF-8 text within a size limit, YAML within node and depth limits.

Every problem is a :class:`SuperclusterError` naming the file and what would be valid, so the command line
prints one line and exits with status 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from supercluster.errors import SuperclusterError

MAX_FILE_BYTES = 1_000_000  # a scenario, profile or CSV is a few kilobytes; a megabyte is generous
MAX_YAML_DEPTH = 32  # nesting of mappings and lists
MAX_YAML_ALIASES = 100  # *references to &anchors
MAX_YAML_NODES = 100_000  # scalars, lists and mappings once every alias is expanded


def read_text(path: str | Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """A file's text, decoded as UTF-8 (a leading byte-order mark is dropped)."""
    p = Path(path)
    try:
        if not p.exists():
            raise SuperclusterError(f"{what} not found: {p}")
        if p.is_dir():
            raise SuperclusterError(f"{what} {p} is a directory; give a file")
        size = p.stat().st_size
        if size > limit:
            raise SuperclusterError(f"{what} {p} is {size:,} bytes; the limit is {limit:,}")
        with p.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as err:
        raise SuperclusterError(f"cannot read {what} {p}: {err.strerror or err}") from None
    if len(raw) > limit:
        raise SuperclusterError(f"{what} {p} is over {limit:,} bytes, the limit")
    if b"\x00" in raw:
        raise SuperclusterError(f"{what} {p} is a binary file; give a UTF-8 text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SuperclusterError(
            f"{what} {p} is not UTF-8 text (byte {err.start}: 0x{raw[err.start]:02x}); save it as UTF-8"
        ) from None


def is_file_ref(ref: str) -> bool:
    """Whether a scenario/profile reference names a file rather than a preset."""
    return Path(ref).suffix in (".yaml", ".yml") or os.sep in ref or Path(ref).exists()


class _BoundedLoader(yaml.SafeLoader):
    """A safe loader that refuses deep nesting and alias expansion bombs before building anything."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise SuperclusterError(f"more than {MAX_YAML_ALIASES} aliases (*name)")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise SuperclusterError(f"nested deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_nodes(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes in the document once every alias is expanded (shared nodes counted each time they are used)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = MAX_YAML_NODES + 1  # a node reached again while being counted: a cycle; too big
    if isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_expanded_nodes(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        n = 1 + sum(_expanded_nodes(k, memo) + _expanded_nodes(v, memo) for k, v in node.value)
    else:
        n = 1
    memo[key] = min(n, MAX_YAML_NODES + 1)
    return memo[key]


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML with the safe loader, within the depth, alias and node limits."""
    if len(text) > MAX_FILE_BYTES:
        raise SuperclusterError(f"{where} is {len(text):,} characters; the limit is {MAX_FILE_BYTES:,}")
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # the reader refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node, {}) > MAX_YAML_NODES:
            raise SuperclusterError(f"expands to more than {MAX_YAML_NODES:,} values")
        return loader.construct_document(node)
    except SuperclusterError as err:
        raise SuperclusterError(f"{where}: YAML {err}; refused") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise SuperclusterError(f"malformed YAML in {where}{at}: {problem}") from None
    except RecursionError:
        raise SuperclusterError(f"{where}: YAML nested too deeply; refused") from None
    finally:
        if loader is not None:
            loader.dispose()
