"""Writing outputs safely: checked before the work starts, written to a temporary file in the same folder and
renamed into place, so a failed write (a full disk, a kill) leaves the previous file as it was."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from supercluster.errors import SuperclusterError


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


def ensure_folder(path: str | Path, what: str = "output folder") -> Path:
    """``path`` as an existing, writable folder (created with its parents if missing)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SuperclusterError(f"{what} {p} exists and is not a folder; give a folder path")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SuperclusterError(f"cannot create {what} {p}: {_reason(err)}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise SuperclusterError(f"{what} {p} is not writable")
    return p


def check_output(path: str | Path, what: str = "output") -> Path:
    """Fail before any work if ``path`` cannot be written: a folder, a device, a path under a file, no permission."""
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise SuperclusterError(f"{what} path '{path}' names no file")
    if p.is_dir():
        raise SuperclusterError(f"{what} {p} is a folder; give a file path")
    if p.exists() and not p.is_file():
        raise SuperclusterError(f"{what} {p} is not a regular file (a device or pipe); give a file path")
    folder = ensure_folder(p.parent if str(p.parent) else Path("."), f"folder of {what}")
    # os.access says yes to root everywhere; a read-only or pseudo file system (/proc, a read-only mount) only
    # refuses when a file is made, so make (and remove) the temporary file the write would make
    _discard(_temp_in(folder, p.name, what))
    return p


def _temp_in(folder: Path, name: str, what: str) -> str:
    """A new empty temporary file beside ``name`` in ``folder`` (closed), or one line saying why it cannot be."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise SuperclusterError(f"cannot write {what} in {folder}: {_reason(err)}; give a writable folder") from None
    os.close(fd)
    return tmp


def _write_chunks(f: IO[Any], chunks: Iterable[Any]) -> None:
    for chunk in chunks:
        f.write(chunk)


def write_atomic(path: str | Path, chunks: Iterable[str] | Iterable[bytes], what: str = "output") -> Path:
    """Write ``chunks`` (all str or all bytes) to ``path`` via a temporary file in the same folder and a rename."""
    p = check_output(path, what)
    tmp = _temp_in(p.parent, p.name, what)
    try:
        with open(tmp, "wb") as f:
            _write_chunks(f, (c.encode("utf-8") if isinstance(c, str) else c for c in chunks))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except OSError as err:
        _discard(tmp)
        raise SuperclusterError(f"cannot write {what} {p}: {_reason(err)}; the previous file is unchanged") from None
    except BaseException:
        _discard(tmp)
        raise
    return p


def write_text(path: str | Path, text: str, what: str = "output") -> Path:
    return write_atomic(path, [text], what)


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
