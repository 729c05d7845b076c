"""Atomic writes into a run folder: a temp file in the same folder, then ``os.replace``.

A run killed mid-write (Blender crashes, SIGKILL) leaves either the old file or the new
one, never half a file (DESIGN.md, rule 6). The file gets the permissions any new file of this
process would get (0644 under the usual umask): colleagues on shared storage can read a run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def plain_json(value: Any) -> Any:
    """``value`` with non-finite numbers as null (strict JSON, which other tools' parsers expect)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def json_text(value: Any, indent: int | None = 2) -> str:
    """``value`` as strict JSON text: a NaN or infinite number (a metric of a run that fell at once) is null."""
    return json.dumps(plain_json(value), indent=indent, allow_nan=False)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_atomic_with(path, lambda f: f.write(data))


def write_atomic_with(path: Path, writer: Callable[[BinaryIO], object]) -> None:
    """Call ``writer(file)`` on a temp file beside ``path``, flush it to disk, then rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # say the file the user named, not the temp file beside it
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; a run folder is meant to be shared
            os.fchmod(fd, 0o666 & ~_umask())
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


_UMASK: list[int] = []


def _umask() -> int:
    """The process's umask, read once (by setting it and putting it back: Python has no getter)."""
    if not _UMASK:
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK.append(mask)
    return _UMASK[0]
