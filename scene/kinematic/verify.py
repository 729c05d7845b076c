"""Verify a compiled twin against Blender's own pose evaluation (the bpy edge).

``verify`` poses the rig at random states within its limits in Blender (through
the depsgraph) and in the twin, and reports per tracked bone the worst position
error (in chain lengths) and rotation error (degrees). The user's pose is
restored afterwards.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field

import bpy
import numpy as np

from ...errors import NotExactError
from ...envs import kinematics as km
from ...envs.kinematic.location import location_box
from ...envs.kinematic.rig_spec import RigSpec
from ...envs.kinematic.twin import RigTwin
from ..pose import PoseBackup, frames_preserved
from .extract import extract_rig, get_armature

POSITION_TOLERANCE = 1e-4  # chain lengths
ROTATION_TOLERANCE = 0.01  # degrees
# "close": not exact, but within these; only an IK solve (an iterative solver stopped by a tolerance, so a
# rounding difference can end it one iteration apart) is reported close instead of not exact
CLOSE_POSITION_TOLERANCE = 1e-2  # chain lengths
CLOSE_ROTATION_TOLERANCE = 1.0  # degrees
VERIFY_LOCATION_RANGE = 0.5  # chain lengths each way, for a location control without limits


@dataclass
class BoneError:
    bone: str
    position: float  # worst, in chain lengths
    rotation: float  # worst, in degrees


@dataclass
class VerifyReport:
    rig: str
    controls: list[str]
    tracked: list[str]
    samples: int
    chain_length: float
    bones: list[BoneError] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why the twin is not exact, by bone and constraint
    notes: list[str] = field(default_factory=list)
    location_controls: list[str] = field(default_factory=list)
    ik_chains: list[str] = field(default_factory=list)  # "owner / constraint" of each IK solve the twin runs

    @property
    def exact(self) -> bool:
        return not self.problems and all(
            b.position <= POSITION_TOLERANCE and b.rotation <= ROTATION_TOLERANCE for b in self.bones)

    @property
    def close(self) -> bool:
        """Not exact, but within the close tolerance, with an IK solve on the way (see CLOSE_POSITION_TOLERANCE)."""
        return (not self.exact and not self.problems and bool(self.ik_chains) and all(
            b.position <= CLOSE_POSITION_TOLERANCE and b.rotation <= CLOSE_ROTATION_TOLERANCE for b in self.bones))

    @property
    def outcome(self) -> str:
        """"exact", "close" or "not exact"."""
        return "exact" if self.exact else "close" if self.close else "not exact"

    @property
    def worst_position(self) -> float:
        return max((b.position for b in self.bones), default=0.0)

    @property
    def worst_rotation(self) -> float:
        return max((b.rotation for b in self.bones), default=0.0)

    def to_dict(self) -> dict:
        return {**asdict(self), "exact": self.exact, "outcome": self.outcome,
                "tolerance": {"position": POSITION_TOLERANCE, "rotation_degrees": ROTATION_TOLERANCE},
                "close_tolerance": {"position": CLOSE_POSITION_TOLERANCE, "rotation_degrees": CLOSE_ROTATION_TOLERANCE}}

    def to_json(self) -> str:
        from ...agents.files import json_text

        return json_text(self.to_dict())

    def format(self) -> str:
        moved = ", ".join(self.controls + [f"{c} (location)" for c in self.location_controls])
        head = self.outcome.upper()
        if self.close:
            head = f"CLOSE, worst error {self.worst_position:.2g} chain lengths / {self.worst_rotation:.2g} deg"
        lines = [f"{self.rig}: {head} over {self.samples} random poses "
                 f"(controls {moved}; chain length {self.chain_length:.4g})"]
        for b in self.bones:
            within = b.position <= POSITION_TOLERANCE and b.rotation <= ROTATION_TOLERANCE
            # "ok" only in an exact report: a bone within tolerance of a twin that leaves something out
            # (the reasons under "why") agreed at these poses only by chance
            mark = "ok " if within and self.exact else ("BAD" if not within else "?  ")
            note = "" if self.exact or not within else " (within tolerance at these poses, but see why)"
            lines.append(f"  {mark} {b.bone}: position {b.position:.2e} chain lengths, "
                         f"rotation {b.rotation:.2e} deg{note}")
        lines += [f"  why: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        if self.close:
            lines.append(f"  why: the IK solve ({', '.join(self.ik_chains)}) stops on a tolerance, and rounding can "
                         "stop it an iteration apart from Blender's; train only with care")
        elif not self.exact and not self.problems:
            lines.append("  why: the twin and Blender disagree beyond tolerance; please report this rig")
        if not self.exact and not self.location_controls:  # the loop moves rotation controls only
            lines.append("  instead: train it with Blender in the loop (Blender evaluates the rig: exact, slower): "
                         "`train ... --blender-workers 2` (add --address for Ray workers), then `bake ... "
                         "--blender-loop`")
        return "\n".join(lines)


def sample_controls(spec: RigSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, C, 3) Euler XYZ angles uniformly inside each control's limits; locked axes keep their value."""
    u = rng.uniform(size=(n,) + spec.limit_low.shape)
    angles = spec.limit_low + u * (spec.limit_high - spec.limit_low)
    return np.where(spec.control_lock, spec.control_rest_euler, angles)


def sample_locations(spec: RigSpec, n: int, rng: np.random.Generator, location_range: float | None = None) -> np.ndarray:
    """(n, L, 3) location channels inside each location control's limits, or its current location ±
    ``location_range`` chain lengths (default :data:`VERIFY_LOCATION_RANGE`); locked axes keep their value."""
    low, high = location_box(spec, VERIFY_LOCATION_RANGE if location_range is None else location_range)
    low, high = np.where(np.isfinite(low), low, spec.control_rest_location), np.where(np.isfinite(high), high,
                                                                                      spec.control_rest_location)
    u = rng.uniform(size=(n,) + low.shape)
    return low + u * (high - low)


def set_control_locations(obj, spec: RigSpec, loc: np.ndarray) -> None:
    for name, value in zip(spec.location_controls, loc):
        obj.pose.bones[name].location = value


def set_control_rotations(obj, spec: RigSpec, rot3: np.ndarray) -> None:
    """Pose the control bones of ``obj`` at (C, 3, 3) local rotations, each in its own rotation mode."""
    for name, mode, m in zip(spec.controls, spec.control_modes, rot3):
        pb = obj.pose.bones[name]
        values = km.rotation_values(m, mode)
        if mode == 'QUATERNION':
            pb.rotation_quaternion = values
        elif mode == 'AXIS_ANGLE':
            pb.rotation_axis_angle = values
        else:
            pb.rotation_euler = values


def blender_world_matrices(obj, names: list[str]) -> np.ndarray:
    """(len(names), 4, 4) evaluated world matrices of bones, after a depsgraph update."""
    bpy.context.view_layer.update()
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    world = np.array([list(r) for r in ev.matrix_world])
    return np.array([world @ np.array([list(r) for r in ev.pose.bones[n].matrix]) for n in names])


def _range_note(spec: RigSpec, location_range: float | None) -> list[str]:
    """Where verify posed location controls in a box of its own, the note that training needs one given."""
    from ...envs.kinematic.location import missing_bounds

    missing = missing_bounds(spec, 0.0) if location_range is None else []
    if not missing:
        return []
    return [f"{'; '.join(missing)}: posed here within +-{VERIFY_LOCATION_RANGE:g} chain lengths (no Limit Location); "
            "training needs the range given (--location-range, rig.location_range) or a Limit Location constraint"]


def verify(rig, controls: list[str], tracked: list[str], samples: int = 32, seed: int = 0,
           location_controls: list[str] | None = None, location_range: float | None = None,
           spec: RigSpec | None = None) -> VerifyReport:
    """Compare the twin with Blender at ``samples`` random poses; see the module docstring.

    ``location_controls`` are posed inside their Limit Location box or at their current location
    ± ``location_range`` chain lengths (default :data:`VERIFY_LOCATION_RANGE`). ``spec``: the selection
    already compiled (strictly) from the rig as it is now, e.g. by a training's extraction; then
    ``controls``, ``tracked`` and ``location_controls`` are the spec's own.
    """
    obj = get_armature(rig)
    problems: list[str] = []
    if spec is None:
        try:
            spec = extract_rig(obj, controls, tracked, location_controls=location_controls)
        except NotExactError as exc:
            spec = extract_rig(obj, controls, tracked, strict=False, location_controls=location_controls)
            problems = [n.removeprefix("left out: ") for n in spec.notes if n.startswith("left out: ")] or [str(exc)]
    twin = RigTwin(spec)
    rng = np.random.default_rng(seed)
    angles = sample_controls(spec, samples, rng)
    rot3 = km.euler_xyz_to_matrix(angles)
    locations = sample_locations(spec, samples, rng, location_range)
    # an animated rig (spec.anim_frames): each pose at a random frame of its animation, in Blender and in the twin
    frames = rng.integers(0, spec.anim_frames, size=samples) if spec.anim_frames else None
    predicted = twin.forward(rot3, control_loc=locations, frame=frames)
    backup = PoseBackup(obj, [pb.name for pb in obj.pose.bones] if frames is not None else
                        list(dict.fromkeys(spec.controls + spec.location_controls)))
    try:
        actual = np.empty_like(predicted)
        # (frames restored only when changed: a frame change replays the animation over unkeyed pose changes)
        with frames_preserved() if frames is not None else contextlib.nullcontext(bpy.context.scene) as scene:
            for k in range(samples):
                if frames is not None:
                    scene.frame_set(spec.anim_frame_start + int(frames[k]))
                set_control_rotations(obj, spec, rot3[k])
                set_control_locations(obj, spec, locations[k])
                actual[k] = blender_world_matrices(obj, spec.tracked)
    finally:
        backup.restore()
    # positions compared in armature-space units scaled to the chain (object scale included)
    world_scale = float(np.cbrt(abs(np.linalg.det(spec.object_matrix[:3, :3])))) or 1.0
    unit = spec.chain_length * world_scale
    pos_err = np.linalg.norm(predicted[..., :3, 3] - actual[..., :3, 3], axis=-1) / unit
    rot_err = km.rotation_error_degrees(predicted, actual)
    bones = [BoneError(name, float(pos_err[:, t].max()), float(rot_err[:, t].max()))
             for t, name in enumerate(spec.tracked)]
    return VerifyReport(rig=obj.name, controls=spec.controls, tracked=spec.tracked, samples=samples,
                        chain_length=spec.chain_length, bones=bones, problems=problems,
                        notes=[n for n in spec.notes if not n.startswith("left out: ")] + _range_note(spec, location_range),
                        location_controls=spec.location_controls,
                        ik_chains=[f"{c['owner']} / {c['name']}" for c in spec.ik_chains])
