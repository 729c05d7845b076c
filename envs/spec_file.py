"""One versioned file format for every family's spec (no bpy): an ``.npz`` of plain arrays plus a JSON header.

A spec file holds the arrays of a spec (never pickled: ``numpy.load(allow_pickle=False)`` refuses object
arrays) and one member ``spec_header``: ``{"format": "rig_dojo.spec", "version": 1, "family": ...,
"meta": {...}}``. Specs are what workers train from (on Ray, in tests) without Blender. Files written
before this header existed (a kinematic ``task_meta``, a camera ``camera_meta``, a physics ``meta``
member) are still read: :func:`read_spec` hands back their metadata the same way.

Sizes are checked before anything is inflated, so a crafted file cannot allocate gigabytes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import RigDojoError

FORMAT = "rig_dojo.spec"
VERSION = 1
HEADER = "spec_header"
MAX_BYTES = 2 << 30  # every member together, inflated
# the metadata member of each family's files before the header existed
# what a user calls each kind of spec file
LABELS = {"kinematic": "task", "kinematic.rig": "rig spec", "camera": "camera shot", "physics": "physics spec"}
LEGACY_META = {"kinematic": "task_meta", "camera": "camera_meta", "physics": "meta", "kinematic.rig": None}


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` atomically (temporary file, then rename); never pickles."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RigDojoError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_spec(path: str | Path, family: str, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Save a spec of ``family``: ``meta`` (JSON-able) in the header, ``arrays`` as npz members."""
    if HEADER in arrays:
        raise ValueError(f"{HEADER} is the header's name")
    header = {"format": FORMAT, "version": VERSION, "family": family, "meta": meta}
    return save_npz(path, {HEADER: np.array(json.dumps(header)), **arrays})


def read_spec(path: str | Path, family: str) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a spec file of ``family`` (or one written before the header existed).

    RigDojoError, saying what to do, for a missing or foreign file, another family's spec, a newer
    version, or a file whose declared sizes are implausible.
    """
    path = Path(path)
    what = f"{path} is not a Rig Dojo {LABELS.get(family, family + ' spec')} file"
    try:
        with zipfile.ZipFile(path) as zf:
            if sum(i.file_size for i in zf.infolist()) > MAX_BYTES:
                raise RigDojoError(f"{what} (its members declare more than {MAX_BYTES >> 30} GB)")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.array(data[k]) for k in data.files}
    except RigDojoError:
        raise
    except FileNotFoundError:
        raise RigDojoError(f"{path}: no such spec file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise RigDojoError(f"{what} ({exc}); extract it again from the .blend") from None
    header_text = arrays.pop(HEADER, None)
    if header_text is None:
        if family not in LEGACY_META or (LEGACY_META[family] is not None and LEGACY_META[family] not in arrays):
            raise RigDojoError(f"{what}; extract it again from the .blend")
        legacy = LEGACY_META[family]
        if legacy is None:  # the metadata is one of the arrays (a rig spec's "meta")
            return {}, arrays
        meta = _json(arrays.pop(legacy), what)
        return meta, arrays
    header = _json(header_text, what)
    if header.get("format") != FORMAT:
        raise RigDojoError(f"{what} (no {FORMAT!r} header)")
    if header.get("family") != family:
        raise RigDojoError(f"{path} is a {header.get('family')} spec, not a {family} one")
    if header.get("version") != VERSION:
        raise RigDojoError(f"{path} is spec format version {header.get('version')}; this Rig Dojo reads version "
                           f"{VERSION}. Update Rig Dojo or extract the spec again")
    return dict(header.get("meta") or {}), arrays


def _json(value: np.ndarray, what: str) -> dict:
    try:
        meta = json.loads(str(value))
    except (json.JSONDecodeError, TypeError) as exc:
        raise RigDojoError(f"{what} (its metadata is not JSON: {exc})") from None
    if not isinstance(meta, dict):
        raise RigDojoError(f"{what} (its metadata is not a JSON object)")
    return meta
