"""Bake a rig policy onto the controls the animator chooses: as trained, onto IK, or onto FK (the bpy edge).

A Rigify limb (arm or leg) has FK controls (``upper_arm_fk.L``, ``forearm_fk.L``, ``hand_fk.L``), an IK
control (``hand_ik.L``), a pole (``upper_arm_ik_target.L``) and a switch bone (``upper_arm_parent.L``) whose
``IK_FK`` property picks the side (0 IK, 1 FK) and ``pole_vector`` turns the pole on. Both sides drive the
same ORG bones, which drive the deform bones.

A policy trained on one side is converted at bake time, frame by frame, in Blender:

- FK -> IK: the IK control takes the pose that puts the IK target where the FK end bone is (the rigid
  offset between the IK control and the IK target, measured on the rig, is kept); the pole goes behind the
  elbow (knee) in the plane of the FK limb; the switch is keyed to IK with the pole on;
- IK -> FK: each FK control takes the pose of its ORG bone as the IK side placed it (parents first);
  the switch is keyed to FK.

Then Blender re-evaluates the baked Action and the worst distance of every tracked bone from the policy's
rollout is reported (``LimbBakeCheck``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ...errors import RigDojoError
from .. import anim

SIDES = ("ik", "fk")


@dataclass
class Limb:
    switch: str  # the bone holding IK_FK (and pole_vector)
    org: list[str]  # ORG chain, root first (upper, lower, end)
    fk: list[str]  # FK controls, in the ORG chain's order
    ik: str  # the IK control (hand_ik / foot_ik)
    pole: str  # the pole control ("" if the rig has none)
    ik_target: str  # the MCH bone the IK constraint aims at (its pose follows the IK control rigidly)
    twist: str = ""  # the IK side's twist control (``upper_arm_ik.L``), not keyed by a conversion

    @property
    def ik_controls(self) -> list[str]:
        return [self.ik] + ([self.pole] if self.pole else [])


def _org_chain(obj, upper: str, side: str) -> list[str]:
    names = [f"ORG-{upper}{side}"]
    bones = obj.data.bones
    if names[0] not in bones:
        return []
    while len(names) < 3:
        kids = [c for c in bones[names[-1]].children if c.use_connect and c.name.startswith("ORG-")]
        if not kids:
            return []
        names.append(kids[0].name)
    return names


def find_limbs(obj) -> list[Limb]:
    """The Rigify limbs of ``obj`` (bones ``<upper>_parent<side>`` with an ``IK_FK`` property)."""
    limbs = []
    pbs = obj.pose.bones
    for pb in pbs:
        if "IK_FK" not in pb.keys() or "_parent" not in pb.name:
            continue
        upper, side = pb.name.split("_parent", 1)
        org = _org_chain(obj, upper, side)
        if not org:
            continue
        bases = [n[len("ORG-"):-len(side)] if side else n[len("ORG-"):] for n in org]
        fk = [f"{b}_fk{side}" for b in bases]
        ik = f"{bases[2]}_ik{side}"
        pole = f"{upper}_ik_target{side}"
        if not all(n in pbs for n in fk) or ik not in pbs:
            continue
        # the IK target: what the end ORG bone copies on the IK side (its last Copy Transforms)
        end = pbs[org[2]]
        copies = [c for c in end.constraints if c.type == 'COPY_TRANSFORMS' and c.subtarget]
        ik_target = copies[-1].subtarget if copies else ik
        twist = f"{upper}_ik{side}"
        limbs.append(Limb(pb.name, org, fk, ik, pole if pole in pbs else "", ik_target,
                          twist if twist in pbs else ""))
    return limbs


def limb_of(obj, names: list[str]) -> tuple[Limb, str] | None:
    """The limb whose FK or IK controls ``names`` are, and which side ("fk" or "ik"), or None."""
    wanted = set(names)
    for limb in find_limbs(obj):
        if wanted and wanted <= set(limb.fk):
            return limb, "fk"
        if wanted and wanted <= set(limb.ik_controls + ([limb.twist] if limb.twist else [])):
            return limb, "ik"
    return None


def _update(obj) -> None:
    obj.update_tag()
    bpy.context.view_layer.update()


def _ev(obj):
    return obj.evaluated_get(bpy.context.evaluated_depsgraph_get())


def _pose(obj, name: str) -> Matrix:
    return _ev(obj).pose.bones[name].matrix.copy()


def _channels(pb, basis: Matrix) -> dict[str, list[float]]:
    """``basis`` as the pose bone's own channels (its rotation mode)."""
    loc, quat, scale = basis.decompose()
    out = {"location": [float(loc[i]) for i in range(3)], "scale": [float(scale[i]) for i in range(3)]}
    if pb.rotation_mode == 'QUATERNION':
        out["rotation_quaternion"] = [float(quat[i]) for i in range(4)]
    elif pb.rotation_mode == 'AXIS_ANGLE':
        axis, angle = quat.to_axis_angle()
        out["rotation_axis_angle"] = [angle, *axis]
    else:
        euler = quat.to_euler(pb.rotation_mode)
        out["rotation_euler"] = [float(euler[i]) for i in range(3)]
    return out


def _set_channels(pb, ch: dict) -> None:
    for path, values in ch.items():
        setattr(pb, path, values)


def _set_basis(obj, name: str, desired_pose: Matrix) -> dict:
    """Give bone ``name`` the channels whose evaluated pose matrix is ``desired_pose`` (its parent as now)."""
    ev = _ev(obj)
    basis = ev.convert_space(pose_bone=ev.pose.bones[name], matrix=desired_pose, from_space='POSE',
                             to_space='LOCAL')
    ch = _channels(obj.pose.bones[name], basis)
    _set_channels(obj.pose.bones[name], ch)
    return ch


def _pole_position(obj, limb: Limb, distance: float) -> Vector:
    """Behind the middle joint, in the plane of the limb as posed now (armature space)."""
    ev = _ev(obj).pose.bones
    root, mid, end = (ev[n].head.copy() for n in limb.org)
    axis = end - root
    if axis.length < 1e-9:
        axis = ev[limb.org[0]].y_axis.copy()
    axis.normalize()
    out = (mid - root) - axis * (mid - root).dot(axis)
    if out.length < 1e-6 * max(distance, 1e-9):  # a straight limb: the bend plane of the upper bone
        z = ev[limb.org[0]].matrix.to_3x3().col[2]
        out = -(z - axis * z.dot(axis))
    return mid + out.normalized() * distance


def _plane_turn(root: Vector, end: Vector, got: Vector, want: Vector):
    """The rotation about the root-to-end axis that takes the middle joint ``got`` towards ``want``."""
    from mathutils import Quaternion

    axis = (end - root).normalized()
    a = (got - root) - axis * (got - root).dot(axis)
    b = (want - root) - axis * (want - root).dot(axis)
    if a.length < 1e-9 or b.length < 1e-9:
        return Quaternion()
    angle = a.angle(b)
    if a.cross(b).dot(axis) < 0:
        angle = -angle
    return Quaternion(axis, angle)


@dataclass
class Conversion:
    """Per-frame channels of the bones the bake keys, and the switch values to key."""

    bones: dict[str, list[dict]] = field(default_factory=dict)  # bone -> one channels dict per frame
    props: dict[tuple[str, str], float] = field(default_factory=dict)  # (bone, property) -> value
    joint_error: float = 0.0  # worst distance of the middle joint (elbow, knee) between the two sides (armature)


class SwitchState:
    """Set a limb's switch properties for a while and put them back (never leave the user's rig changed)."""

    def __init__(self, obj, limb: Limb):
        self.obj, self.pb = obj, obj.pose.bones[limb.switch]
        self.saved = {k: self.pb[k] for k in ("IK_FK", "pole_vector") if k in self.pb.keys()}

    def set(self, ik_fk: float | None = None, pole: bool | None = None) -> None:
        if ik_fk is not None:
            self.pb["IK_FK"] = type(self.saved["IK_FK"])(ik_fk)
        if pole is not None and "pole_vector" in self.saved:
            self.pb["pole_vector"] = type(self.saved["pole_vector"])(pole)
        _update(self.obj)

    def restore(self) -> None:
        for k, v in self.saved.items():
            self.pb[k] = v
        _update(self.obj)


class ChannelBackup:
    """Save and restore every transform channel of some pose bones."""

    PATHS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")

    def __init__(self, obj, names):
        self.obj = obj
        self.values = {n: {p: tuple(getattr(obj.pose.bones[n], p)) for p in self.PATHS} for n in names}

    def restore(self) -> None:
        for n, values in self.values.items():
            _set_channels(self.obj.pose.bones[n], values)
        _update(self.obj)


def convert(obj, limb: Limb, trained_side: str, target_side: str, pose_frame) -> Conversion:
    """Channels of ``target_side``'s controls that reproduce, frame by frame, what ``trained_side`` does.

    ``pose_frame(k)`` poses the trained controls at frame ``k`` (and returns False after the last frame).
    """
    if trained_side == target_side:
        raise RigDojoError("nothing to convert")
    conv = Conversion()
    state = SwitchState(obj, limb)
    names = limb.fk + limb.ik_controls + ([limb.twist] if limb.twist else [])
    backup = ChannelBackup(obj, names)
    trained_ik_fk = 0.0 if trained_side == "ik" else 1.0
    try:
        if target_side == "ik":
            if not limb.pole:
                raise RigDojoError(f"{limb.switch}: this limb has no pole control to bake the elbow plane onto")
            # the rigid offset from the IK control to the IK target, measured with the IK side on
            state.set(ik_fk=0.0, pole=True)
            offset = _pose(obj, limb.ik).inverted() @ _pose(obj, limb.ik_target)
            chain = sum(obj.data.bones[n].length for n in limb.org[:2])
            k = 0
            while True:
                state.set(ik_fk=trained_ik_fk)
                if not pose_frame(k):
                    break
                _update(obj)
                end = _pose(obj, limb.org[2])
                mid = _pose(obj, limb.org[1]).translation.copy()
                pole = _pole_position(obj, limb, 0.5 * chain)
                state.set(ik_fk=0.0, pole=True)
                conv.bones.setdefault(limb.ik, []).append(_set_basis(obj, limb.ik, end @ offset.inverted()))
                _update(obj)
                desired = _pose(obj, limb.pole)
                desired.translation = pole
                channels = _set_basis(obj, limb.pole, desired)
                root = _pose(obj, limb.org[0]).translation.copy()
                for _ in range(4):  # the solve may settle a little off the pole's plane: turn the pole after it
                    _update(obj)
                    turn = _plane_turn(root, end.translation, _pose(obj, limb.org[1]).translation, mid)
                    if abs(turn.angle) < 1e-7:
                        break
                    desired = _pose(obj, limb.pole)
                    desired.translation = root + turn @ (desired.translation - root)
                    channels = _set_basis(obj, limb.pole, desired)
                conv.bones.setdefault(limb.pole, []).append(channels)
                _update(obj)
                conv.joint_error = max(conv.joint_error, (_pose(obj, limb.org[1]).translation - mid).length)
                k += 1
            conv.props = {(limb.switch, "IK_FK"): 0.0, (limb.switch, "pole_vector"): 1.0}
        else:
            k = 0
            while True:
                state.set(ik_fk=trained_ik_fk)
                if not pose_frame(k):
                    break
                _update(obj)
                org = [_pose(obj, n) for n in limb.org]
                state.set(ik_fk=1.0)
                for name, pose in zip(limb.fk, org):
                    conv.bones.setdefault(name, []).append(_set_basis(obj, name, pose))
                    _update(obj)
                conv.joint_error = max(conv.joint_error, (_pose(obj, limb.org[1]).translation - org[1].translation).length)
                k += 1
            conv.props = {(limb.switch, "IK_FK"): 1.0}
    finally:
        backup.restore()
        state.restore()
    return conv


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def write_conversion(obj, action, frames: np.ndarray, conv: Conversion) -> int:
    """Key ``conv`` into ``action`` (dense, linear); returns the number of keys written."""
    keys = 0
    f = np.asarray(frames, dtype=np.float64)
    for name, per_frame in conv.bones.items():
        for path in per_frame[0]:
            values = np.array([ch[path] for ch in per_frame], dtype=np.float64)
            if path == "rotation_quaternion":  # sign-continuous
                for i in range(1, len(values)):
                    if np.dot(values[i], values[i - 1]) < 0:
                        values[i] = -values[i]
            for index in range(values.shape[1]):
                curve = anim.ensure_fcurve(action, obj, f'pose.bones["{_escape(name)}"].{path}', index,
                                           group_name=name)
                keys += anim.write_keys(curve, f, values[:, index])
    keys += write_props(obj, action, f, conv.props)
    return keys


def write_props(obj, action, frames: np.ndarray, props: dict) -> int:
    """Key custom properties (a switch) to constant values over ``frames``."""
    keys = 0
    f = np.asarray(frames, dtype=np.float64)
    for (bone, prop), value in props.items():
        curve = anim.ensure_fcurve(action, obj, f'pose.bones["{_escape(bone)}"]["{prop}"]', 0, group_name=bone)
        keys += anim.write_keys(curve, f, np.full(len(f), float(value)))
    return keys


def switch_state(obj, limb: Limb) -> dict:
    """The switch values the rig has now, to key beside a bake on the trained controls."""
    pb = obj.pose.bones[limb.switch]
    return {(limb.switch, k): float(pb[k]) for k in ("IK_FK", "pole_vector") if k in pb.keys()}


@dataclass
class LimbBakeCheck:
    position_error: float  # worst distance of a tracked bone from the rollout (scene units)
    worst_bone: str
    worst_frame: float


def check_positions(obj, frames: np.ndarray, tracked: list[str], points: np.ndarray,
                    point: str = "tail") -> LimbBakeCheck:
    """Evaluate ``obj``'s Action at every frame and compare the tracked bones' world points to ``points``
    ``(F, T, 3)``; the scene's frame is restored."""
    scene = bpy.context.scene
    saved = (scene.frame_current, scene.frame_subframe)
    worst, where = 0.0, ("", float(frames[0]) if len(frames) else 0.0)
    try:
        for i, frame in enumerate(frames):
            whole = math.floor(frame)
            scene.frame_set(int(whole), subframe=float(frame - whole))
            ev = _ev(obj)
            world = ev.matrix_world
            for t, name in enumerate(tracked):
                p = world @ getattr(ev.pose.bones[name], point)
                d = float(np.linalg.norm(np.array(p) - points[i, t]))
                if d > worst:
                    worst, where = d, (name, float(frame))
    finally:
        scene.frame_set(saved[0], subframe=saved[1])
    return LimbBakeCheck(worst, where[0], where[1])
