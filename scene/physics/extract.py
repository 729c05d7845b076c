"""Read a rig as a physical creature, and bake a simulation back onto it (the bpy edge of physics).

* :func:`extract_physics`: an armature (plus obstacle boxes and an animated platform)
  -> :class:`~.mjcf.PhysicsSpec`, the only place the physics twin reads the scene.
* :func:`physics_rest_error` / :func:`physics_pose_error`: Blender's bone heads and tails
  against the MuJoCo model's, at rest and at random poses within the limits.
* :func:`bake_physics`: root motion (the root bone or the object) and the joints'
  rotations into a **new** Action (the rig's previous Action is kept with a fake
  user, through ``scene.bake``); :func:`verify_physics_bake` re-evaluates it frame by
  frame and returns the worst bone-position error against the simulation.
* :func:`build_biped`, :func:`build_quadruped`: small creatures for tests and demos.

Per-bone custom properties (on the pose bone or the bone) override the defaults:
``rig_dojo_radius`` (capsule radius, armature units), ``rig_dojo_density`` (kg/m³),
``rig_dojo_strength`` (servo gain multiplier). An object with the custom property
``rig_dojo_obstacle`` is a static obstacle (its bounding box).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from ...errors import RigDojoError
from .. import anim
from ...envs import kinematics as km
from ..bake import BakeResult, bake_pose_rotations
from ..kinematic.extract import _limits, get_armature
from ...envs.keyreduce import continuous_quaternions, quaternion_to_channels
from ...envs.physics.mjcf import PhysicsSpec

RADIUS_SOURCES = ("length", "envelope", "bbone")
ROOT_MOTION = ("bone", "object")


def _m(matrix) -> np.ndarray:
    return np.array([list(row) for row in matrix], dtype=np.float64)


def _prop(pb, bone, key: str, default: float) -> float:
    for holder in (pb, bone):
        if key in holder.keys():
            try:
                return float(holder[key])
            except (TypeError, ValueError):
                raise RigDojoError(f"bone {pb.name!r}: custom property {key} must be a number, got {holder[key]!r}") from None
    return default


def _bone_set(obj, root: str | None, bones: Sequence[str] | None) -> list:
    data = obj.data
    if len(data.bones) == 0:
        raise RigDojoError(f"{obj.name!r} has no bones; add a root bone with bones under it")
    if root is None:
        tops = [b for b in data.bones if b.parent is None]
        if len(tops) != 1:
            raise RigDojoError(f"{obj.name!r} has {len(tops)} top-level bones ({', '.join(b.name for b in tops[:6])}); "
                               "name the root bone to simulate")
        root_bone = tops[0]
    else:
        root_bone = data.bones.get(root)
        if root_bone is None:
            raise RigDojoError(f"{obj.name!r} has no bone named {root!r} (the root)")
    under = [root_bone] + list(root_bone.children_recursive)
    if bones is not None:
        wanted = set(bones) | {root_bone.name}
        missing = [n for n in bones if n not in data.bones]
        if missing:
            raise RigDojoError(f"{obj.name!r} has no bone named {', '.join(map(repr, missing))}")
        outside = [n for n in bones if n not in {b.name for b in under}]
        if outside:
            raise RigDojoError(f"bone {outside[0]!r} is not under the root {root_bone.name!r}; pick bones of one tree")
        under = [b for b in under if b.name in wanted]
    if len(under) < 2:
        raise RigDojoError(f"{obj.name!r} has no bones under the root {root_bone.name!r}; "
                           "a creature needs bones parented to its root (or pick another root)")
    # depth first, children in the armature's order: MuJoCo numbers bodies (and joints) the same way
    keep = {b.name for b in under}
    out: list = []

    def visit(b) -> None:
        if b.name in keep:
            out.append(b)
        for c in b.children:
            visit(c)

    visit(root_bone)
    return out


def _box_of(obj) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World centre, half extents and unit axes of ``obj``'s bounding box (evaluated)."""
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    corners = np.array([list(c) for c in ev.bound_box], dtype=np.float64)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    mw = _m(ev.matrix_world)
    norms = np.linalg.norm(mw[:3, :3], axis=0)
    if np.any(norms <= 0):
        raise RigDojoError(f"obstacle {obj.name!r} has zero scale")
    center = mw[:3, :3] @ ((lo + hi) / 2) + mw[:3, 3]
    half = np.maximum((hi - lo) / 2 * norms, 1e-4)
    return center, half, mw[:3, :3] / norms


def extract_physics(
    rig,
    root: str | None = None,
    bones: Sequence[str] | None = None,
    density: float = 1000.0,
    strength: float = 1.0,
    friction: float = 1.0,
    radius_source: str = "length",
    radius_ratio: float = 0.12,
    default_limit: float = math.pi / 2,
    ground_height: float = 0.0,
    obstacles: Sequence[str] | None = None,
    platform: str | None = None,
    frame_range: tuple[int, int] | None = None,
) -> PhysicsSpec:
    """Read ``rig`` as a creature: a body per bone under ``root``, the world's boxes, a moving platform.

    Args:
        rig: armature object or its name.
        root: the root bone (free joint); default the armature's only top-level bone.
        bones: simulate only these bones (and the root); default every bone under the root.
            A bone whose parent is left out hangs from its nearest simulated ancestor.
        density: kg/m³ of every capsule (``rig_dojo_density`` overrides per bone).
        strength: servo gain multiplier (``rig_dojo_strength`` multiplies it per bone).
        friction: sliding friction of ground, obstacles and creature.
        radius_source: ``"length"`` (``radius_ratio`` × bone length), ``"envelope"`` (the
            mean of the bone's envelope head and tail radius) or ``"bbone"`` (B-Bone display
            size); ``rig_dojo_radius`` on a bone wins over all three.
        default_limit: radians either side of rest for an axis the rig does not limit.
        ground_height: world Z of the ground plane.
        obstacles: names of mesh objects that become static boxes (their bounding box);
            default every object with the custom property ``rig_dojo_obstacle``.
        platform: an animated mesh object that becomes a moving box, sampled every frame
            of ``frame_range`` (default the scene's range) from Blender's evaluation.
    """
    obj = get_armature(rig)
    if radius_source not in RADIUS_SOURCES:
        raise RigDojoError(f"radius_source must be one of {', '.join(RADIUS_SOURCES)}, got {radius_source!r}")
    scene = bpy.context.scene
    bpy.context.view_layer.update()
    chosen = _bone_set(obj, root, bones)
    names = [b.name for b in chosen]
    index = {n: i for i, n in enumerate(names)}
    parent = np.full(len(names), -1, dtype=np.int64)
    for i, b in enumerate(chosen[1:], start=1):
        p = b.parent
        while p is not None and p.name not in index:
            p = p.parent
        parent[i] = index[p.name]
    notes: list[str] = []
    radius, dens, stren, lock = [], [], [], []
    low, high, has = [], [], []
    for b in chosen:
        pb = obj.pose.bones[b.name]
        if radius_source == "envelope":
            r = (b.head_radius + b.tail_radius) / 2
        elif radius_source == "bbone":
            r = max(b.bbone_x, b.bbone_z)
        else:
            r = radius_ratio * b.length
        radius.append(_prop(pb, b, "rig_dojo_radius", r))
        dens.append(_prop(pb, b, "rig_dojo_density", density))
        stren.append(strength * _prop(pb, b, "rig_dojo_strength", 1.0))
        lock.append(list(pb.lock_rotation))
        lo, hi, h = _limits(pb)  # raises for min > max
        low.append(lo)
        high.append(hi)
        has.append(h)
        if not b.use_inherit_rotation:
            notes.append(f"{b.name}: does not inherit rotation in Blender; simulated as inheriting it")
    names_box = list(obstacles) if obstacles is not None else [
        o.name for o in scene.objects if "rig_dojo_obstacle" in o.keys() and o != obj]
    centers: list = []
    halves: list = []
    rots: list = []
    for name in names_box:
        o = bpy.data.objects.get(name)
        if o is None or o.type != 'MESH':
            raise RigDojoError(f"obstacle {name!r} is not a mesh object in this file; pick mesh boxes")
        c, h, r = _box_of(o)
        centers.append(c)
        halves.append(h)
        rots.append(r)
    f0, f1 = frame_range or (scene.frame_start, scene.frame_end)
    platform_half, platform_m = np.zeros(3), np.zeros((0, 4, 4))
    if platform:
        o = bpy.data.objects.get(platform)
        if o is None or o.type != 'MESH':
            raise RigDojoError(f"platform {platform!r} is not a mesh object in this file; pick an animated mesh")
        saved = scene.frame_current
        mats = []
        try:
            for f in range(int(f0), int(f1) + 1):
                scene.frame_set(f)
                c, h, r = _box_of(o)
                m = np.eye(4)
                m[:3, :3], m[:3, 3] = r, c
                mats.append(m)
                if f == f0:
                    platform_half = h
        finally:
            scene.frame_set(saved)
        platform_m = np.array(mats)
    spec = PhysicsSpec(
        rig_name=obj.name, object_matrix=_m(obj.matrix_world), bone_names=names, parent=parent,
        rest=np.array([_m(b.matrix_local) for b in chosen]), lengths=np.array([b.length for b in chosen]),
        radius=np.array(radius, dtype=np.float64), density=np.array(dens, dtype=np.float64),
        strength=np.array(stren, dtype=np.float64), lock=np.array(lock, dtype=bool),
        limit_low=np.array(low), limit_high=np.array(high), has_limit=np.array(has, dtype=bool),
        rotation_modes=[obj.pose.bones[n].rotation_mode for n in names], friction=float(friction),
        ground_height=float(ground_height), default_limit=float(default_limit),
        fps=scene.render.fps / scene.render.fps_base, frame_start=int(f0), box_names=names_box,
        box_centers=np.array(centers).reshape(-1, 3), box_half=np.array(halves).reshape(-1, 3),
        box_rot=np.array(rots).reshape(-1, 3, 3), platform_name=platform or "", platform_half=platform_half,
        platform_matrices=platform_m, notes=notes,
    )
    spec.validate()
    return spec


# ---- Blender's bone positions ----------------------------------------------------------------


def _evaluated_points(obj, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    n = len(ev.pose.bones)
    all_names = [pb.name for pb in ev.pose.bones]
    rows = np.array([all_names.index(b) for b in names])
    buf = np.empty(n * 3, dtype=np.float32)
    mw = _m(ev.matrix_world)
    out = []
    for attr in ("head", "tail"):
        ev.pose.bones.foreach_get(attr, buf)
        local = buf.reshape(-1, 3)[rows].astype(np.float64)
        out.append(local @ mw[:3, :3].T + mw[:3, 3])
    return out[0], out[1]


def physics_rest_error(obj, spec: PhysicsSpec) -> float:
    """Worst distance (world units) between Blender's rest heads/tails and the MuJoCo model's at ``qpos0``."""
    import mujoco

    from ...envs.physics.mjcf import bone_points, load_model

    model, layout = load_model(spec)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    ids = [model.body(n).id for n in layout.body_names]
    heads, tails = bone_points(spec, data.xpos[ids], data.xmat[ids])
    mw = _m(obj.matrix_world)
    bones = [obj.data.bones[n] for n in spec.bone_names]
    bh = np.array([list(b.head_local) for b in bones]) @ mw[:3, :3].T + mw[:3, 3]
    bt = np.array([list(b.tail_local) for b in bones]) @ mw[:3, :3].T + mw[:3, 3]
    return float(max(np.linalg.norm(heads - bh, axis=1).max(), np.linalg.norm(tails - bt, axis=1).max()))


def root_channels(obj, spec: PhysicsSpec, root_world: np.ndarray, root_motion: str = "bone"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(location (F,3), rotation matrix (F,3,3))`` that put the root bone at ``root_world (F,4,4)``.

    ``"bone"``: the root bone's pose location and rotation (its ``matrix_basis``);
    ``"object"``: the object's location and rotation (the root bone stays at rest).
    """
    w = np.asarray(root_world, dtype=np.float64)
    rest = spec.rest[0]
    r_r, h_r = rest[:3, :3], rest[:3, 3]
    mw = _m(obj.matrix_world)
    s = float(np.cbrt(np.linalg.det(mw[:3, :3])))
    r_o, t_o = mw[:3, :3] / s, mw[:3, 3]
    q, p = w[:, :3, :3], w[:, :3, 3]
    if root_motion == "bone":
        pose_rot = np.einsum("ji,fjk->fik", r_o, q)  # R_o^T Q
        pose_t = ((p - t_o) @ r_o) / s
        rot = np.einsum("ji,fjk->fik", r_r, pose_rot)
        loc = (pose_t - h_r) @ r_r
        return loc, rot
    if root_motion == "object":
        rot = np.einsum("fij,kj->fik", q, r_r)  # Q R_r^T
        loc = p - s * np.einsum("fij,j->fi", rot, h_r)
        return loc, rot
    raise RigDojoError(f"root_motion must be one of {', '.join(ROOT_MOTION)}, got {root_motion!r}")


def pose_rig(obj, spec: PhysicsSpec, root_world: np.ndarray, euler: np.ndarray, root_motion: str = "bone") -> None:
    """Set the rig's pose directly (no keys): the root at ``root_world (4,4)``, bones at ``euler (B,3)``."""
    loc, rot = root_channels(obj, spec, np.asarray(root_world)[None], root_motion)
    for k, name in enumerate(spec.bone_names):
        pb = obj.pose.bones[name]
        m = km.euler_xyz_to_matrix(euler[k]) if k else (rot[0] if root_motion == "bone" else np.eye(3))
        _set_rotation(pb, m)
    if root_motion == "bone":
        obj.pose.bones[spec.bone_names[0]].location = loc[0]
    else:
        obj.pose.bones[spec.bone_names[0]].location = (0.0, 0.0, 0.0)
        obj.location = loc[0]
        _set_rotation(obj, rot[0])
    bpy.context.view_layer.update()


def _set_rotation(holder, m: np.ndarray) -> None:
    q = km.matrix_to_quaternion(m)
    mode = holder.rotation_mode
    if mode == 'QUATERNION':
        holder.rotation_quaternion = q
    elif mode == 'AXIS_ANGLE':
        holder.rotation_axis_angle = quaternion_to_channels(q[None], mode)[0]
    else:
        holder.rotation_euler = km.matrix_to_euler(m, mode)


def physics_pose_error(obj, spec: PhysicsSpec, n_poses: int = 8, seed: int = 0, root_motion: str = "bone") -> float:
    """Worst head/tail distance between Blender and MuJoCo over random poses within the joint limits.

    Checks the joint convention (hinges Z, Y, X = Euler XYZ) and the root channels the bake writes.
    """
    import mujoco

    from ...envs.physics.mjcf import bone_points, euler_from_hinges, load_model

    model, layout = load_model(spec)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(seed)
    ids = [model.body(n).id for n in layout.body_names]
    worst = 0.0
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
        worst = max(worst, float(np.linalg.norm(heads - bh, axis=1).max()), float(np.linalg.norm(tails - bt, axis=1).max()))
    return worst


# ---- bake ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhysicsBakeCheck:
    """The worst bone head/tail distance (world units) between Blender's evaluation and the simulation."""

    position_error: float
    worst_bone: str
    worst_frame: float
    size: float  # the creature's size, to read the error relative to it


def bake_physics(
    obj,
    spec: PhysicsSpec,
    frames: Sequence[float] | np.ndarray,
    root_world: np.ndarray,
    euler: np.ndarray,
    root_motion: str = "bone",
    action_name: str | None = None,
    provenance: Mapping[str, Any] | None = None,
    undo_push: bool = False,
) -> BakeResult:
    """Key a simulated motion onto ``obj`` in a **new** Action.

    Args:
        obj: the armature the spec was extracted from.
        spec: its physics spec.
        frames: ``(F,)`` frame numbers.
        root_world: ``(F,4,4)`` the root bone's world frame (unit axes) per frame, from the simulation.
        euler: ``(F,B,3)`` every bone's local Euler XYZ rotation (bone 0, the root, is ignored).
        root_motion: ``"bone"`` keys the root bone's location and rotation; ``"object"`` keys
            the object's location and rotation (the object must have no parent).
        action_name, provenance, undo_push: as :func:`scene.bake.bake_pose_rotations`.
    """
    obj = get_armature(obj)
    frames = np.asarray(frames, dtype=np.float64)
    euler = np.asarray(euler, dtype=np.float64)
    if root_motion == "object" and obj.parent is not None:
        raise RigDojoError(f"{obj.name!r} has a parent; bake root motion to the root bone instead (root_motion='bone')")
    loc, rot = root_channels(obj, spec, root_world, root_motion)
    names = list(spec.bone_names[1:])
    rotations = euler[:, 1:]
    if root_motion == "bone":
        names = [spec.bone_names[0]] + names
        rotations = np.concatenate([km.matrix_to_euler(rot)[:, None], rotations], axis=1)
    result = bake_pose_rotations(obj, names, frames, rotations, action_name=action_name or f"{obj.name}_physics",
                                 provenance=provenance, undo_push=undo_push)
    action = obj.animation_data.action
    quats = continuous_quaternions(km.matrix_to_quaternion(rot))
    if root_motion == "bone":
        path = f'pose.bones["{spec.bone_names[0]}"].location'
        group = spec.bone_names[0]
        channel_sets = [(path, loc)]
    else:
        group = "Object Transforms"
        mode = obj.rotation_mode
        if mode == 'QUATERNION':
            values, rpath = quats, "rotation_quaternion"
        elif mode == 'AXIS_ANGLE':
            values, rpath = quaternion_to_channels(quats, mode), "rotation_axis_angle"
        else:
            from ...envs.keyreduce import quaternion_to_euler

            values, rpath = quaternion_to_euler(quats, mode), "rotation_euler"
        channel_sets = [("location", loc), (rpath, values)]
    keys = result.keys_written
    for path, values in channel_sets:
        for i in range(values.shape[1]):
            keys += anim.write_keys(anim.ensure_fcurve(action, obj, path, i, group_name=group), frames, values[:, i])
    action["rig_dojo_bake"]["root_motion"] = root_motion
    return BakeResult(action_name=result.action_name, keys_written=keys, seconds=result.seconds,
                      reduction_ratio=1.0, previous_action=result.previous_action)


def verify_physics_bake(obj, spec: PhysicsSpec, frames: Sequence[float] | np.ndarray, heads: np.ndarray,
                        tails: np.ndarray) -> PhysicsBakeCheck:
    """Play the baked Action in Blender (``frame_set`` per frame) and compare every bone's head and tail
    with the simulation's ``heads``/``tails`` ``(F,B,3)`` (world)."""
    scene = bpy.context.scene
    saved = (scene.frame_current, scene.frame_subframe)
    frames = np.asarray(frames, dtype=np.float64)
    err = np.zeros((len(frames), spec.n_bones))
    try:
        for i, f in enumerate(frames):
            whole = math.floor(f)
            scene.frame_set(int(whole), subframe=float(f - whole))
            bh, bt = _evaluated_points(obj, spec.bone_names)
            err[i] = np.maximum(np.linalg.norm(bh - heads[i], axis=1), np.linalg.norm(bt - tails[i], axis=1))
    finally:
        scene.frame_set(saved[0], subframe=saved[1])
    fi, bi = np.unravel_index(int(np.argmax(err)), err.shape)
    return PhysicsBakeCheck(float(err[fi, bi]), spec.bone_names[bi], float(frames[fi]), spec.size())


# ---- test and demo creatures ---------------------------------------------------------------


def _armature(name: str, location) -> bpy.types.Object:
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = location
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def _add_bones(obj, bones: list[tuple]) -> None:
    """``bones``: (name, head, tail, parent or None, connected)."""
    bpy.ops.object.mode_set(mode='EDIT')
    eb = obj.data.edit_bones
    for name, head, tail, parent, connected in bones:
        b = eb.new(name)
        b.head, b.tail, b.roll = Vector(head), Vector(tail), 0.0
        if parent:
            b.parent = eb[parent]
            b.use_connect = connected
    bpy.ops.object.mode_set(mode='OBJECT')


def _hinge(obj, name: str, low: float, high: float, axis: str = "x") -> None:
    """Lock every axis but ``axis`` and limit it to [low, high] (an IK limit)."""
    pb = obj.pose.bones[name]
    pb.lock_rotation = tuple(a != axis for a in "xyz")
    setattr(pb, f"use_ik_limit_{axis}", True)
    setattr(pb, f"ik_min_{axis}", low)
    setattr(pb, f"ik_max_{axis}", high)


def build_biped(name: str = "Biped", location=(0.0, 0.0, 0.0)) -> bpy.types.Object:
    """A 9-bone biped about 1.4 units tall facing -Y: pelvis (root), spine, head, legs of thigh, shin, foot."""
    obj = _armature(name, location)
    bones: list[tuple[str, tuple[float, float, float], tuple[float, float, float], str | None, bool]] = [
        ("pelvis", (0, 0, 0.9), (0, 0, 1.05), None, False),
        ("spine", (0, 0, 1.05), (0, 0, 1.35), "pelvis", True),
        ("head", (0, 0, 1.35), (0, 0, 1.5), "spine", True),
    ]
    for side, x in (("L", 0.1), ("R", -0.1)):
        bones += [
            (f"thigh.{side}", (x, 0, 0.9), (x, -0.03, 0.5), "pelvis", False),
            (f"shin.{side}", (x, -0.03, 0.5), (x, 0.0, 0.1), f"thigh.{side}", True),
            (f"foot.{side}", (x, 0.0, 0.1), (x, -0.16, 0.05), f"shin.{side}", True),
        ]
    _add_bones(obj, bones)
    for side in "LR":
        _hinge(obj, f"shin.{side}", -2.2, 0.1)
        _hinge(obj, f"foot.{side}", -0.7, 0.7)
        obj.pose.bones[f"foot.{side}"]["rig_dojo_radius"] = 0.035
    for pb in obj.pose.bones:
        pb.rotation_mode = 'XYZ'
    obj.pose.bones["pelvis"]["rig_dojo_radius"] = 0.1
    obj.pose.bones["spine"]["rig_dojo_radius"] = 0.09
    obj.pose.bones["head"]["rig_dojo_radius"] = 0.08
    return obj


def build_quadruped(name: str = "Quadruped", location=(0.0, 0.0, 0.0)) -> bpy.types.Object:
    """A 14-bone quadruped about 1.2 units long facing -Y: torso (root), neck, tail, legs of thigh, shin, foot.

    The legs splay outwards (feet 0.27 either side of the spine, hips 0.15): with the feet straight under
    the hips (0.15) random servo targets of a tenth of the joint ranges toppled it sideways within seconds,
    so exploration mostly learnt from falls (agents/README.md, "Physics defaults")."""
    obj = _armature(name, location)
    bones: list[tuple[str, tuple[float, float, float], tuple[float, float, float], str | None, bool]] = [
        ("torso", (0, 0.35, 0.6), (0, -0.35, 0.6), None, False),
        ("neck", (0, -0.35, 0.6), (0, -0.5, 0.8), "torso", True),
        ("tail", (0, 0.35, 0.62), (0, 0.6, 0.7), "torso", False),
    ]
    for prefix, y in (("front", -0.3), ("back", 0.3)):
        for side, x in (("L", 0.15), ("R", -0.15)):
            b = f"{prefix}_{side}"
            knee, foot = x * 1.4, x * 1.8  # splayed: a wider stance
            bones += [
                (f"{b}_thigh", (x, y, 0.58), (knee, y - 0.02, 0.34), "torso", False),
                (f"{b}_shin", (knee, y - 0.02, 0.34), (foot, y, 0.1), f"{b}_thigh", True),
                (f"{b}_foot", (foot, y, 0.1), (foot, y - 0.06, 0.03), f"{b}_shin", True),
            ]
    _add_bones(obj, bones)
    for pb in obj.pose.bones:
        pb.rotation_mode = 'XYZ'
        if pb.name.endswith("_thigh"):
            pb.lock_rotation = (False, True, False)  # swing forward/back and sideways, no twist
            for axis, lim in (("x", 1.0), ("z", 0.4)):
                setattr(pb, f"use_ik_limit_{axis}", True)
                setattr(pb, f"ik_min_{axis}", -lim)
                setattr(pb, f"ik_max_{axis}", lim)
        elif pb.name.endswith("_shin"):
            _hinge(obj, pb.name, -1.5, 1.5)
        elif pb.name.endswith("_foot"):
            _hinge(obj, pb.name, -0.8, 0.8)
            pb["rig_dojo_radius"] = 0.03
    obj.pose.bones["torso"]["rig_dojo_radius"] = 0.12
    obj.pose.bones["neck"]["rig_dojo_radius"] = 0.06
    obj.pose.bones["tail"]["rig_dojo_radius"] = 0.03
    obj.pose.bones["tail"].lock_rotation = (True, True, True)
    return obj
