"""Train only what verifies (DESIGN.md, rule 8): the twin's parity check before a training or a bake.

:func:`check_twin` runs ``verify`` on the selection a training (or a bake) compiled, at a few random
poses, and refuses (``NotExactError``, exit 3) a twin that is not exact, with the bone, the error and
the reason. An IK solve a rounding apart from Blender's ("close", within the bake's own tolerance) trains,
with a note. The result is cached per selection:

- the **key** is a hash of what decides the outcome: the compiled selection itself (every array and the
  constraint program of the ``RigSpec``: rest and held poses, constants of the bones the controls do not
  move, per-frame animation, drivers evaluated), the Blender-side settings of the bones it evaluates
  (every property of their constraints, rotation modes, IK settings), the rig's drivers, its IK solver,
  the Blender version and the check's own samples, seed and location range;
- it is kept **in memory** for the process (the sidebar presses Train again and again) and **beside the
  run** (``twin_check.json`` in the run folder), so ``train --resume`` and the ``bake`` of that run's policy
  skip a check the same selection already passed. Not in the .blend: the file is the user's work (a cache
  in its objects would dirty it, take undo steps and travel to colleagues), and a command-line training
  does not save it. A run folder someone else wrote could claim a pass it never had; that costs nothing
  worse than a refusal later, because the bake still re-evaluates its Action in Blender and exits 3 on a
  miss.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ...errors import NotExactError
from ...envs.kinematic.rig_spec import RigSpec
from .verify import POSITION_TOLERANCE, ROTATION_TOLERANCE, verify

CHECK_SAMPLES = 16  # random poses; a wrong compile shows at almost any pose, verify's 32 are for reports
CHECK_SEED = 0
CHECK_FILE = "twin_check.json"
_KEY_VERSION = "1"
_CACHE: dict[str, "TwinCheck"] = {}


@dataclass
class TwinCheck:
    """The outcome of a parity check (only "exact" and "close" come back: "not exact" raises)."""

    key: str
    rig: str
    outcome: str  # "exact" or "close"
    samples: int
    worst_position: float  # chain lengths
    worst_rotation: float  # degrees
    seconds: float  # spent checking now (0 when cached)
    cached: str = ""  # "", "memory" or "run folder"
    notes: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        where = {"memory": " (cached)", "run folder": " (cached in the run folder)"}.get(self.cached, "")
        took = f" in {self.seconds:.2f} s" if not self.cached else ""
        return (f"twin check: {self.rig} {self.outcome.upper()} over {self.samples} random poses{took}{where}; "
                f"worst {self.worst_position:.2g} chain lengths / {self.worst_rotation:.2g} deg")

    def to_dict(self) -> dict:
        return asdict(self)

    def record(self, run_dir: Path) -> None:
        """Keep this check beside a run (``twin_check.json``)."""
        record(self, run_dir)


# -- the key -----------------------------------------------------------------------------------------
def _value(v) -> object:
    if isinstance(v, bpy.types.ID):
        return f"ID:{v.name}"
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    try:
        return [_value(x) for x in v]  # vectors, matrices, enum sets
    except TypeError:
        return str(v)


def _rna(struct, depth: int = 0) -> dict:
    """Every readable property of ``struct`` (a constraint), collections one level down (Armature targets)."""
    out: dict = {}
    for prop in struct.bl_rna.properties:
        name = prop.identifier
        if name in ("rna_type", "error_location", "error_rotation", "is_valid", "show_expanded", "active"):
            continue
        try:
            value = getattr(struct, name)
        except (AttributeError, RuntimeError):
            continue
        if prop.type == 'COLLECTION':
            out[name] = [_rna(item, depth + 1) for item in value] if depth == 0 else len(value)
        elif prop.type == 'POINTER' and not isinstance(value, bpy.types.ID):
            continue
        else:
            out[name] = _value(value)
    return out


def _drivers(obj) -> list:
    anim = obj.animation_data
    out = []
    for fc in (anim.drivers if anim else []):
        d = fc.driver
        out.append([fc.data_path, fc.array_index, d.type, d.expression, fc.mute,
                    [[v.name, v.type, [[_value(t.id), t.data_path, t.bone_target, t.transform_type,
                                        t.transform_space] for t in v.targets]] for v in d.variables]])
    return out


def selection_key(obj, spec: RigSpec, location_range: float | None, samples: int = CHECK_SAMPLES,
                  seed: int = CHECK_SEED) -> str:
    """The cache key of a selection's parity check (see the module docstring)."""
    h = hashlib.sha256()
    arrays = spec.to_arrays()
    meta = json.loads(str(arrays.pop("meta")))
    meta.pop("notes", None)  # words, not state
    h.update(json.dumps([_KEY_VERSION, list(bpy.app.version), samples, seed, location_range, meta],
                        sort_keys=True, default=str).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    bones = []
    for name in spec.node_names:
        pb = obj.pose.bones[name]
        bones.append([name, pb.rotation_mode,
                      [_value(getattr(pb, f"{k}_{a}")) for k in ("lock_ik", "ik_stiffness", "use_ik_limit",
                                                                  "ik_min", "ik_max") for a in "xyz"],
                      float(pb.ik_stretch), [_rna(c) for c in pb.constraints]])
    h.update(json.dumps([bones, _drivers(obj), getattr(obj.pose, "ik_solver", "")], sort_keys=True,
                        default=str).encode())
    return h.hexdigest()


# -- the check ---------------------------------------------------------------------------------------
def _from_run_folder(run_dir: Path | None, key: str) -> TwinCheck | None:
    if run_dir is None:
        return None
    path = Path(run_dir) / CHECK_FILE
    try:
        if not path.is_file() or path.stat().st_size > 1 << 20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key or data.get("outcome") not in ("exact", "close"):
            return None
        check = TwinCheck(**{k: data[k] for k in TwinCheck.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError, KeyError):
        return None  # unreadable or foreign: check again
    check.seconds, check.cached = 0.0, "run folder"
    return check


def record(check: TwinCheck, run_dir: Path | None) -> None:
    """Write ``check`` beside a run (``twin_check.json``); a folder that cannot take it is left as it is."""
    if run_dir is None or not Path(run_dir).is_dir():
        return
    from ...agents.files import write_atomic

    data = {**check.to_dict(), "cached": "", "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        write_atomic(Path(run_dir) / CHECK_FILE, (json.dumps(data, indent=2) + "\n").encode())
    except OSError:
        pass


def check_rig(rig: RigSpec, location_range: float | None = None, run_dir: Path | None = None,
              samples: int = CHECK_SAMPLES) -> TwinCheck:
    """The parity check of a compiled selection (see the module docstring); ``NotExactError`` when the twin
    is not exact."""
    obj = bpy.data.objects[rig.rig_name]
    key = selection_key(obj, rig, location_range, samples)
    cached = _CACHE.get(key)
    if cached is not None:
        return TwinCheck(**{**cached.to_dict(), "seconds": 0.0, "cached": "memory"})
    found = _from_run_folder(run_dir, key)
    if found is not None:
        _CACHE[key] = found
        return found
    began = time.perf_counter()
    report = verify(obj, rig.controls, rig.tracked, samples=samples, seed=CHECK_SEED,
                    location_controls=rig.location_controls, location_range=location_range, spec=rig)
    seconds = time.perf_counter() - began
    if report.outcome == "not exact":
        worst = max(report.bones, key=lambda b: max(b.position / POSITION_TOLERANCE, b.rotation / ROTATION_TOLERANCE),
                    default=None)
        where = (f"; worst at {worst.bone}: {worst.position:.2g} chain lengths / {worst.rotation:.2g} deg (tolerance "
                 f"1e-4 chain lengths / 0.01 deg)") if worst is not None else ""
        why = "; ".join(report.problems) or ("the compiled twin and Blender's evaluation disagree although nothing in "
                                             "the selection is known to be unsupported; please report this rig")
        raise NotExactError(f"the twin does not reproduce {obj.name!r} for this selection (controls "
                            f"{', '.join(rig.controls + rig.location_controls)}; parity check over {samples} random "
                            f"poses{where}): {why}. Rig Dojo trains and bakes only a selection that verifies")
    notes = []
    if report.outcome == "close":
        notes.append(f"the IK solve ({', '.join(report.ik_chains)}) is within {report.worst_position:.2g} chain "
                     "lengths of Blender's, not exact (it stops on a tolerance); the bake checks the result in Blender")
    check = TwinCheck(key=key, rig=obj.name, outcome=report.outcome, samples=samples,
                      worst_position=report.worst_position, worst_rotation=report.worst_rotation, seconds=seconds,
                      notes=notes)
    _CACHE[key] = check
    return check


def check_twin(config, spec, run_dir: Path | None = None) -> TwinCheck:
    """The kinematic family's edge hook (``scene.families.check_twin``): the parity check of the task's rig."""
    location_range = float(config.rig.location_range) if spec.rig.location_controls else None
    return check_rig(spec.rig, location_range or None, run_dir)


def clear_cache() -> None:
    _CACHE.clear()
