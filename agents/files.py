"""Atomic writes into a run folder: a temp file in the same folder, then ``os.replace``.

A run killed mid-write (Blender crashes, SIGKILL) leaves either the old file or the new
one, never half a file (DESIGN.md, rule 6).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_atomic_with(path, lambda f: f.write(data))


def write_atomic_with(path: Path, writer: Callable[[BinaryIO], object]) -> None:
    """Call ``writer(file)`` on a temp file beside ``path``, flush it to disk, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
