"""Blender against the physics twin: bone heads and tails at rest, at random poses, and over a baked clip."""

from __future__ import annotations


from collections.abc import Sequence
from dataclasses import dataclass, field

import bpy
import numpy as np

from ..pose import frames_preserved, set_frame, to_numpy
from .pose import pose_rig
from ...envs.physics.mjcf import PhysicsSpec


def _evaluated_points(obj, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    n = len(ev.pose.bones)
    all_names = [pb.name for pb in ev.pose.bones]
    rows = np.array([all_names.index(b) for b in names])
    buf = np.empty(n * 3, dtype=np.float32)
    mw = to_numpy(ev.matrix_world)
    out = []
    for attr in ("head", "tail"):
        ev.pose.bones.foreach_get(attr, buf)
        local = buf.reshape(-1, 3)[rows].astype(np.float64)
        out.append(local @ mw[:3, :3].T + mw[:3, 3])
    return out[0], out[1]


def physics_rest_error(obj, spec: PhysicsSpec) -> float:
    """Worst distance (world units) between Blender's rest heads/tails and the MuJoCo model's at ``qpos0``."""
    return _rest_error(obj, spec)[0]


def _worst(spec: PhysicsSpec, heads, tails, bh, bt) -> tuple[float, str]:
    """The worst head/tail distance, and the first bone (parents first) that is off: the one that moves
    differently, where the worst distance is usually at the end of the chain it carries."""
    per_bone = np.maximum(np.linalg.norm(heads - bh, axis=1), np.linalg.norm(tails - bt, axis=1))
    off = np.flatnonzero(~(per_bone <= TWIN_TOLERANCE * (float(spec.size()) or 1.0)))
    return float(per_bone.max()), spec.bone_names[int(off[0]) if off.size else int(np.argmax(per_bone))]


def _rest_error(obj, spec: PhysicsSpec) -> tuple[float, str]:
    import mujoco

    from ...envs.physics.mjcf import bone_points, load_model

    model, layout = load_model(spec)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    ids = [model.body(n).id for n in layout.body_names]
    heads, tails = bone_points(spec, data.xpos[ids], data.xmat[ids])
    mw = to_numpy(obj.matrix_world)
    bones = [obj.data.bones[n] for n in spec.bone_names]
    bh = np.array([list(b.head_local) for b in bones]) @ mw[:3, :3].T + mw[:3, 3]
    bt = np.array([list(b.tail_local) for b in bones]) @ mw[:3, :3].T + mw[:3, 3]
    return _worst(spec, heads, tails, bh, bt)


def physics_pose_error(obj, spec: PhysicsSpec, n_poses: int = 8, seed: int = 0, root_motion: str = "bone") -> float:
    """Worst head/tail distance between Blender and MuJoCo over random poses within the joint limits.

    Checks the joint convention (hinges Z, Y, X = Euler XYZ) and the root channels the bake writes.
    """
    return _pose_error(obj, spec, n_poses, seed, root_motion)[0]


def _pose_error(obj, spec: PhysicsSpec, n_poses: int = 8, seed: int = 0, root_motion: str = "bone") -> tuple[float, str]:
    import mujoco

    from ...envs.physics.mjcf import bone_points, euler_from_hinges, load_model

    model, layout = load_model(spec)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    ids = [model.body(n).id for n in layout.body_names]
    worst, worst_bone = 0.0, spec.bone_names[0]
    for _ in range(n_poses):
        q = rng.uniform(layout.q_low, layout.q_high)
        data.qpos[:3] = data.qpos[:3] + rng.normal(0, 0.1, 3)
        quat = rng.normal(size=4)
        data.qpos[3:7] = quat / np.linalg.norm(quat)
        data.qpos[7:] = q
        mujoco.mj_forward(model, data)
        heads, tails = bone_points(spec, data.xpos[ids], data.xmat[ids])
        root = np.eye(4)
        root[:3, :3], root[:3, 3] = data.xmat[ids[0]].reshape(3, 3), data.xpos[ids[0]]
        pose_rig(obj, spec, root, euler_from_hinges(spec, layout, q), root_motion)
        bh, bt = _evaluated_points(obj, spec.bone_names)
        error, bone = _worst(spec, heads, tails, bh, bt)
        if not error <= worst:  # a NaN is the worst there is
            worst, worst_bone = error, bone
    return worst, worst_bone


def _what_moves(obj, bone: str) -> str:
    """The constraints and drivers on ``bone`` (what a user would mute), for the twin check's refusal."""
    pb = obj.pose.bones.get(bone)
    live = [f"{c.type.replace('_', ' ').title()} '{c.name}'" for c in (pb.constraints if pb else ()) if not c.mute]
    anim = obj.animation_data
    prefix = f'pose.bones["{bone}"]'
    drivers = [d.data_path for d in (anim.drivers if anim else ()) if d.data_path.startswith(prefix) and not d.mute]
    parts = ([f"its constraints {', '.join(live[:4])}" + (" ..." if len(live) > 4 else "")] if live else []) + \
        ([f"{len(drivers)} driver{'s' if len(drivers) > 1 else ''} on it"] if drivers else [])
    return " and ".join(parts) if parts else "no constraint or driver of its own (look at its parents' and targets')"


@dataclass(frozen=True)
class PhysicsBakeCheck:
    """The worst bone head/tail distance (world units) between Blender's evaluation and the simulation."""

    position_error: float
    worst_bone: str
    worst_frame: float
    size: float  # the creature's size, to read the error relative to it


def verify_physics_bake(obj, spec: PhysicsSpec, frames: Sequence[float] | np.ndarray, heads: np.ndarray,
                        tails: np.ndarray) -> PhysicsBakeCheck:
    """Play the baked Action in Blender (``frame_set`` per frame) and compare every bone's head and tail
    with the simulation's ``heads``/``tails`` ``(F,B,3)`` (world)."""
    frames = np.asarray(frames, dtype=np.float64)
    err = np.zeros((len(frames), spec.n_bones))
    with frames_preserved() as scene:
        for i, f in enumerate(frames):
            set_frame(scene, f)
            bh, bt = _evaluated_points(obj, spec.bone_names)
            err[i] = np.maximum(np.linalg.norm(bh - heads[i], axis=1), np.linalg.norm(bt - tails[i], axis=1))
    fi, bi = np.unravel_index(int(np.argmax(err)), err.shape)
    return PhysicsBakeCheck(float(err[fi, bi]), spec.bone_names[bi], float(frames[fi]), spec.size())


TWIN_TOLERANCE = 1e-4  # worst bone head/tail distance, as a fraction of the creature's size
TWIN_SAMPLES = 4


@dataclass
class PhysicsTwinCheck:
    """The physics family's parity check before training (``scene.families.check_twin``): Blender's bone heads
    and tails against the MuJoCo model's, at rest and at random poses."""

    rig: str
    samples: int
    worst: float  # of the creature's size
    seconds: float
    outcome: str = "exact"
    notes: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        return (f"twin check: {self.rig} EXACT at rest and over {self.samples} random poses in {self.seconds:.2f} s; "
                f"worst {self.worst:.2g} of the creature's size")


def check_physics_twin(obj, spec: PhysicsSpec, root_motion: str = "bone",
                       samples: int = TWIN_SAMPLES) -> PhysicsTwinCheck:
    """Train only what verifies (DESIGN.md, rule 8) for a creature: the rest pose and ``samples`` random poses
    posed in Blender and in MuJoCo; the rig's pose and transform are put back. Raises ``NotExactError`` (exit 3)
    when a bone head or tail is further apart than ``TWIN_TOLERANCE`` of the creature's size."""
    import time

    from ...errors import NotExactError
    from ..pose import PoseBackup, TransformBackup

    began = time.perf_counter()
    pose, transform = PoseBackup(obj, [pb.name for pb in obj.pose.bones]), TransformBackup(obj)
    try:
        rest, rest_bone = _rest_error(obj, spec)
        posed, posed_bone = _pose_error(obj, spec, n_poses=samples, root_motion=root_motion)
    finally:
        pose.restore()
        transform.restore()
    size = float(spec.size()) or 1.0
    worst = max(rest, posed) / size
    if not np.isfinite(worst) or worst > TWIN_TOLERANCE:
        at_rest = rest >= posed or not np.isfinite(rest)
        bone = rest_bone if at_rest else posed_bone
        raise NotExactError(f"{obj.name}: the physics twin does not reproduce Blender's bones (worst head/tail "
                            f"{worst:.2g} of the creature's size; first off: bone '{bone}', at "
                            f"{'rest' if at_rest else 'a random pose'}, tolerance {TWIN_TOLERANCE:g}; "
                            f"{_what_moves(obj, bone)}); a constraint or driver moves it in Blender but not in the "
                            "simulation: mute it, leave the bone out (--controls), or report this rig")
    return PhysicsTwinCheck(obj.name, samples, worst, time.perf_counter() - began)
