"""A run folder belongs to one training at a time, and resume finds the newest checkpoint it can read.

- :func:`claim`: make the folder if needed and hold its lock file (``.rig_dojo.lock``, an OS lock that
  ends with the process, so a killed run never leaves a stale lock) while a session trains into it. A
  second training into the same folder, from this process or another, is refused with one line.
- :func:`record_checkpoint`: ``checkpoint.json`` (the latest) plus a sidecar ``checkpoints/<name>.json``
  beside every checkpoint, so an older checkpoint can be resumed with its own counters when the latest is
  damaged.
- :func:`find_resume_point`: the newest checkpoint whose archive is intact, with notes on the ones skipped.
- :func:`resume_command`: the command that continues a run, quoted for a shell.

No bpy (DESIGN.md, rule 1).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import socket
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RigDojoError
from .files import write_atomic

LOCK_NAME = ".rig_dojo.lock"
POINTER = "checkpoint.json"
CHECKPOINTS = "checkpoints"
# what a checkpoint may be called (never a path: the name comes from a file in the folder)
CHECKPOINT_NAME = re.compile(r"^(step|gen)_(\d{1,15})\.(zip|npz)$")
MAX_META_BYTES = 1 << 20
MAX_CHECKPOINT_BYTES = 4 << 30  # a checkpoint's archive, and the sum of its members once inflated


# -- the lock ---------------------------------------------------------------------------------
@dataclass
class RunFolderLock:
    """This process's hold on a run folder; :meth:`release` (or the process ending) lets it go."""

    run_dir: Path
    fd: int | None
    created: bool  # the folder did not exist before claim()

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)  # closing the descriptor drops the OS lock
            finally:
                self.fd = None

    def abandon(self) -> None:
        """Release, and when claim() made the folder and nothing but the settings was written, remove it
        again: a training refused while it was being built leaves no half-made folder behind."""
        self.release()
        if not self.created:
            return
        leftovers = {p.name for p in self.run_dir.iterdir()} if self.run_dir.is_dir() else set()
        if leftovers <= {LOCK_NAME, "config.toml"}:
            for name in leftovers:
                (self.run_dir / name).unlink(missing_ok=True)
            try:
                self.run_dir.rmdir()
            except OSError:
                pass


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def claim(run_dir: str | Path) -> RunFolderLock:
    """Make ``run_dir`` (and its parents) if needed and lock it for this training.

    RigDojoError (nothing written) when the path is a file, cannot be created or written, or another
    training holds the folder.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RigDojoError(f"the run folder {run_dir} is a file; choose a folder that does not exist yet or an "
                           "empty one (--out; in the sidebar, Run Folder)")
    created = not run_dir.exists()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RigDojoError(f"cannot create the run folder {run_dir}: {exc.strerror or exc}; choose a writable "
                           "place (--out; in the sidebar, Run Folder)") from None
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise RigDojoError(f"the run folder {run_dir} is not writable; choose a writable place (--out; in the "
                           "sidebar, Run Folder)")
    lock_path = run_dir / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if created:
            _remove_empty(run_dir)
        raise RigDojoError(f"cannot write in the run folder {run_dir}: {exc.strerror or exc}; choose a writable "
                           "place (--out; in the sidebar, Run Folder)") from None
    if not _try_lock(fd):
        os.close(fd)
        raise RigDojoError(f"another training is writing to {run_dir}{_holder(lock_path)}; wait for it to end, "
                           "or choose another run folder (--out; in the sidebar, Run Folder)")
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
    except OSError:
        pass  # who holds it is a courtesy for the message above; the lock is what counts
    return RunFolderLock(run_dir, fd, created)


def _holder(lock_path: Path) -> str:
    try:
        text = lock_path.read_text(encoding="utf-8", errors="replace")[:200].strip()
    except OSError:
        return ""
    return f" ({text})" if text else ""


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


# -- checkpoints ------------------------------------------------------------------------------
def record_checkpoint(run_dir: str | Path, meta: dict[str, Any]) -> None:
    """Write ``meta`` (the counters resume restores) as ``checkpoint.json`` and as the sidecar of its
    checkpoint; drop sidecars whose checkpoint is gone."""
    run_dir = Path(run_dir)
    text = json.dumps(meta, indent=1).encode()
    folder = run_dir / CHECKPOINTS
    write_atomic(folder / f"{meta['checkpoint']}.json", text)
    write_atomic(run_dir / POINTER, text)
    for sidecar in folder.glob("*.json"):
        if not (folder / sidecar.name[: -len(".json")]).exists():
            sidecar.unlink(missing_ok=True)


def _read_meta(path: Path) -> dict[str, Any] | None:
    """A checkpoint's counters from ``path`` (checkpoint.json or a sidecar); None if damaged or odd."""
    try:
        if path.stat().st_size > MAX_META_BYTES:
            return None
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return meta if _plausible(meta) else None


def _plausible(meta: Any) -> bool:
    if not isinstance(meta, dict) or not isinstance(meta.get("checkpoint"), str):
        return False
    if not CHECKPOINT_NAME.match(meta["checkpoint"]):
        return False
    for key in ("step", "episodes", "curriculum_stage"):
        value = meta.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**15:
            return False
    wall = meta.get("wall_time", 0.0)
    return isinstance(wall, (int, float)) and not isinstance(wall, bool) and math.isfinite(wall) and wall >= 0


def archive_problem(path: Path) -> str | None:
    """Why the checkpoint archive at ``path`` cannot be read (None: it is intact).

    Checks sizes before inflating anything, then every member's CRC (a truncated or overwritten file
    fails here). Both our checkpoints and SB3's are zip archives (an npz is a zip).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        return exc.strerror or "cannot be read"
    if size > MAX_CHECKPOINT_BYTES:
        return f"implausibly large ({size} bytes)"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if not infos:
                return "empty"
            if sum(i.file_size for i in infos) > MAX_CHECKPOINT_BYTES:
                return "its members would inflate to an implausible size"
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        return f"damaged ({exc})"
    if bad is not None:
        return f"damaged (member {bad} fails its checksum)"
    return None


@dataclass
class ResumePoint:
    """Where a resume starts: the checkpoint's counters (``meta``), and what was skipped on the way."""

    meta: dict[str, Any] | None  # None: no readable checkpoint (the run starts over, or is refused)
    notes: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # checkpoints that exist but cannot be read


def find_resume_point(run_dir: str | Path) -> ResumePoint:
    """The newest intact checkpoint of ``run_dir``: checkpoint.json's if it can be read, else the newest
    sidecar's, else (folders from before sidecars) the newest checkpoint file with the counters it can
    have (its step from its name)."""
    run_dir = Path(run_dir)
    folder = run_dir / CHECKPOINTS
    candidates: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    pointer = _read_meta(run_dir / POINTER)
    if pointer is None and (run_dir / POINTER).exists():
        notes.append(f"{POINTER} is damaged; looking for the newest checkpoint in {CHECKPOINTS}/")
    if pointer is not None:
        candidates[pointer["checkpoint"]] = pointer
    if folder.is_dir():
        for sidecar in folder.glob("*.json"):
            meta = _read_meta(sidecar)
            if meta is not None and sidecar.name == f"{meta['checkpoint']}.json":
                candidates.setdefault(meta["checkpoint"], meta)
        for file in folder.iterdir():
            match = CHECKPOINT_NAME.match(file.name)
            if match and file.name not in candidates and match.group(1) == "step":
                # no counters recorded for it: the step is in its name; episodes and time start again
                stage = pointer.get("curriculum_stage", 0) if pointer else 0
                candidates[file.name] = {"checkpoint": file.name, "step": int(match.group(2)), "episodes": 0,
                                         "curriculum_stage": stage, "wall_time": 0.0, "approximate": True}
    ordered = sorted(candidates.values(), key=lambda m: (int(m["step"]), m is pointer), reverse=True)
    damaged = []
    for meta in ordered:
        path = folder / meta["checkpoint"]
        if not path.exists():
            if meta is pointer:
                notes.append(f"the latest checkpoint {meta['checkpoint']} named in {POINTER} is missing")
            continue
        problem = archive_problem(path)
        if problem is None:
            if damaged or meta is not pointer and pointer is not None:
                notes.append(f"resuming from the newest readable checkpoint, {meta['checkpoint']} "
                             f"(step {int(meta['step']):,d})")
            if meta.get("approximate"):
                notes.append(f"{meta['checkpoint']} has no recorded counters: the episode count and training "
                             "time restart from 0")
            return ResumePoint(meta, notes, damaged)
        damaged.append(meta["checkpoint"])
        notes.append(f"checkpoint {meta['checkpoint']} cannot be read: {problem}")
    return ResumePoint(None, notes, damaged)


def clear_for_restart(run_dir: str | Path) -> None:
    """A run killed before its first checkpoint starts over in its folder: what it wrote before that
    (metrics rows, a pointer to nothing) belongs to training that is repeated."""
    run_dir = Path(run_dir)
    for name in ("metrics.csv", POINTER):
        (run_dir / name).unlink(missing_ok=True)


# -- the command that continues a run -----------------------------------------------------------
def resume_command(run_dir: str | Path, scene_path: str | Path | None, blend_path: str | None = None) -> str:
    """``python -m rig_dojo train SCENE --resume RUN`` with absolute, shell-quoted paths; inside Blender
    (no SCENE argument) ``blender -b FILE.blend -c rig_dojo train --resume RUN``."""
    run = shlex.quote(str(Path(run_dir).resolve()))
    if scene_path:
        return f"python -m rig_dojo train {shlex.quote(str(Path(scene_path).resolve()))} --resume {run}"
    blend = shlex.quote(blend_path) if blend_path else "SCENE.blend"
    return f"blender -b {blend} -c rig_dojo train --resume {run}"
