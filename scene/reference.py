"""Read an animator's Action as a reference clip (the bpy edge; no family's business).

- :func:`get_action`: an Action by name, with the closest names when it is missing;
- :func:`keyed_bones`: which bones an Action keys, and at which frames (read from its F-curves);
- :func:`sample_action`: the Action put on the rig and sampled once per frame from Blender's evaluation
  (drivers on its channels and the rig's constraints honoured): local rotations, locations and world
  points, as a :class:`~rig_dojo.envs.reference.clip.ReferenceClip`.

Bones the Action names but the rig does not (a clip keyed on the metarig, on another rig's deform bones)
are matched by ``envs.reference.bone_map`` and their F-curves evaluated onto the matching rig bone, whose
rest orientation is assumed to be the same (true of Rigify's metarig, ORG, DEF and FK bones).

Sampling changes nothing the user made: the rig's Action, slot, pose (every channel of every bone) and
the current frame are put back afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import bpy
import numpy as np

from ..envs import kinematics as km
from ..envs import rotations
from ..envs.reference.bone_map import closest, resolve_map
from ..envs.reference.clip import ReferenceClip
from ..errors import RigDojoError
from . import anim
from .pose import frames_preserved, set_rotation, to_numpy

_BONE_CHANNEL = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(\w+)$')
_ROTATIONS = {"rotation_quaternion": 'QUATERNION', "rotation_euler": 'XYZ', "rotation_axis_angle": 'AXIS_ANGLE'}


def get_action(name: str, what: str = "the Action") -> bpy.types.Action:
    """The Action ``name``; RigDojoError naming the closest Actions of the file when there is none."""
    action = bpy.data.actions.get(name)
    if action is None:
        names = [a.name for a in bpy.data.actions]
        listed = closest(name, names) or (f"; Actions in this file: {', '.join(names[:8])}" if names
                                          else "; this file has no Actions")
        raise RigDojoError(f"{what}: no Action named {name!r}{listed}")
    return action


def _unescape(name: str) -> str:
    return name.replace('\\"', '"').replace("\\\\", "\\")


def _bone_keys(action: bpy.types.Action):
    """``(bone, channel, index, co)`` for each keyed pose-bone F-curve of the Action (every slot): ``co`` its
    keys' (frame, value) pairs, flattened."""
    for curve in anim.iter_fcurves(action):
        m = _BONE_CHANNEL.match(curve.data_path)
        if not m or len(curve.keyframe_points) == 0:
            continue
        co = np.empty(len(curve.keyframe_points) * 2, dtype=np.float64)
        curve.keyframe_points.foreach_get("co", co)
        yield _unescape(m.group(1)), m.group(2), curve.array_index, co


def keyed_bones(action: bpy.types.Action, channels: Iterable[str] = ("rotation_quaternion", "rotation_euler",
                                                                       "rotation_axis_angle")) -> dict[str, list[float]]:
    """``{bone: sorted keyed frames}`` of the bones whose ``channels`` the Action keys (every slot)."""
    wanted = set(channels)
    out: dict[str, set[float]] = {}
    for bone, channel, _, co in _bone_keys(action):
        if channel in wanted:
            out.setdefault(bone, set()).update(float(f) for f in co[0::2])
    return {bone: sorted(frames) for bone, frames in out.items()}


def bad_key(action: bpy.types.Action, bones: Iterable[str], limit: float = 1e6) -> str | None:
    """The first key on ``bones`` (as the Action names them) whose value is not a number, infinite or beyond
    ``limit`` (a key typed as 3.4e38), said as "BONE CHANNEL[i] at frame F is V"; None when every key is sane."""
    wanted = set(bones)
    for bone, channel, index, co in _bone_keys(action):
        bad = ~np.isfinite(co[1::2]) | (np.abs(co[1::2]) > limit)
        if bone in wanted and bad.any():
            k = int(np.argmax(bad))
            return f"{bone} {channel}[{index}] at frame {co[2 * k]:g} is {co[2 * k + 1]:g}"
    return None


def _curves_by_bone(action) -> dict[str, dict[str, dict[int, bpy.types.FCurve]]]:
    out: dict[str, dict[str, dict[int, bpy.types.FCurve]]] = {}
    for curve in anim.iter_fcurves(action):
        m = _BONE_CHANNEL.match(curve.data_path)
        if m:
            out.setdefault(_unescape(m.group(1)), {}).setdefault(m.group(2), {})[curve.array_index] = curve
    return out


class FullPoseBackup:
    """Every channel of every pose bone of an armature (location, each rotation mode's, scale), and its
    Action and slot: what sampling another Action on it changes."""

    def __init__(self, obj):
        self.obj = obj
        self.channels = {pb.name: (tuple(pb.location), tuple(pb.rotation_quaternion), tuple(pb.rotation_euler),
                                   tuple(pb.rotation_axis_angle), tuple(pb.scale)) for pb in obj.pose.bones}
        anim_data = obj.animation_data
        self.had_animation = anim_data is not None
        self.action = anim_data.action if anim_data is not None else None
        self.slot = getattr(anim_data, "action_slot", None) if anim_data is not None else None

    def restore_action(self) -> None:
        obj = self.obj
        if not self.had_animation:
            obj.animation_data_clear()
            return
        anim_data = obj.animation_data
        anim_data.action = self.action
        if self.slot is not None and hasattr(anim_data, "action_slot"):
            try:
                anim_data.action_slot = self.slot
            except (TypeError, RuntimeError):  # the slot went away with the Action: Blender picked one
                pass

    def restore_pose(self, names: Iterable[str] | None = None) -> None:
        """Put the channels back (of ``names`` only, when given)."""
        keep = None if names is None else set(names)
        for name, (loc, quat, euler, axis_angle, scale) in self.channels.items():
            if keep is not None and name not in keep:
                continue
            pb = self.obj.pose.bones.get(name)
            if pb is not None:
                pb.location, pb.rotation_quaternion, pb.rotation_euler, pb.rotation_axis_angle, pb.scale = (
                    loc, quat, euler, axis_angle, scale)
        bpy.context.view_layer.update()


def _mapped_rotation(curves: dict[str, dict[int, bpy.types.FCurve]], frame: float, target_mode: str):
    """The rotation matrix a source bone's rotation curves give at ``frame`` (None: it has none)."""
    for channel, mode in _ROTATIONS.items():
        if channel in curves:
            size = 3 if mode == 'XYZ' else 4
            default = np.array([1.0, 0.0, 0.0, 0.0] if mode == 'QUATERNION' else [0.0, 0.0, 1.0, 0.0]
                               if mode == 'AXIS_ANGLE' else [0.0, 0.0, 0.0])
            values = np.array([curves[channel][i].evaluate(frame) if i in curves[channel] else default[i]
                               for i in range(size)])
            if mode == 'XYZ' and target_mode not in ('QUATERNION', 'AXIS_ANGLE'):
                mode = target_mode  # Euler channels are read in the bone's own order
            return rotations.quaternion_to_matrix(rotations.channels_to_quaternion(values, mode))
    return None


def sample_action(obj, action, frames: Iterable[float], bones: list[str], point_names: Iterable[str] = (),
                  bone_map: dict[str, str] | None = None, prefer: Iterable[str] = (),
                  keys_on: Iterable[str] | None = None) -> ReferenceClip:
    """Put ``action`` on the armature ``obj`` and sample it at ``frames`` from Blender's evaluation.

    ``bones``: the rig bones whose local rotation and location the clip records; ``point_names``: bones whose
    evaluated world tail positions it records. Bones the Action keys under another name are matched
    (``bone_map`` over the automatic map, ``prefer``: rig bones that win a tie, e.g. the controls).
    ``keys_on``: the only rig bones whose keys count; any other bone the Action keys keeps the pose it had
    before (a pin's effector position is then where the controls alone put it, as in the twin).
    """
    frames = [float(f) for f in frames]
    point_names = list(point_names)
    keyed = keyed_bones(action, ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle",
                                 "scale"))
    mapping = resolve_map(keyed, obj.pose.bones.keys(), bone_map, prefer=prefer)
    renamed = {target: source for source, target in mapping.items() if source != target}
    curves = _curves_by_bone(action) if renamed else {}
    keyed_frames = {f for s, fs in keyed.items() if mapping.get(s) in bones for f in fs}
    held = [] if keys_on is None else sorted({mapping[s] for s in keyed if s in mapping} - set(keys_on))
    notes = [f"{source} keyed in {action.name!r} is read as {target}" for target, source in renamed.items()]
    backup = FullPoseBackup(obj)
    n, b = len(frames), len(bones)
    rot, loc, points = np.zeros((n, b, 4)), np.zeros((n, b, 3)), np.zeros((n, len(point_names), 3))
    try:
        with frames_preserved() as scene:
            try:
                anim.borrow_action(obj, action)
                for i, frame in enumerate(frames):
                    whole = int(np.floor(frame))
                    scene.frame_set(whole, subframe=frame - whole)
                    for target, source in renamed.items():
                        m = _mapped_rotation(curves[source], frame, obj.pose.bones[target].rotation_mode)
                        if m is not None:
                            set_rotation(obj.pose.bones[target], m)
                    if held:
                        backup.restore_pose(held)
                    elif renamed:
                        bpy.context.view_layer.update()
                    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
                    world = to_numpy(ev.matrix_world)
                    for k, name in enumerate(bones):
                        basis = to_numpy(ev.pose.bones[name].matrix_basis)
                        r3, _ = km.normalize_axes(basis)
                        rot[i, k] = rotations.matrix_to_quaternion(r3[:3, :3])
                        loc[i, k] = basis[:3, 3]
                    for k, name in enumerate(point_names):
                        tail = np.append(np.array(ev.pose.bones[name].tail), 1.0)
                        points[i, k] = (world @ tail)[:3]
            finally:
                backup.restore_action()
    finally:
        backup.restore_pose()
    return ReferenceClip(name=action.name, frames=np.array(frames), fps=_fps(), bones=list(bones),
                         rotations=rotations.continuous_quaternions(rot), locations=loc, point_names=point_names,
                         points=points, keyed=np.array([f in keyed_frames for f in frames], dtype=bool),
                         source_bones=[renamed.get(name, name) for name in bones], notes=notes)


def pin_selection(ref, action, keyed: dict, candidates: list[str],
                  what: str = "the pinned controls") -> tuple[list[str], list[int], list[int] | None]:
    """The bones a pins Action pins (``ref.pin_bones``, else every one of ``candidates`` it keys), every frame
    keyed on them, and the frames ``ref.pin_frames`` chooses (None: not chosen); ``keyed``: bone -> its keyed
    frames. RigDojoError for a pin bone without keys or a chosen frame not keyed on them (``what``)."""
    pinned = list(ref.pin_bones) or [b for b in candidates if b in keyed]
    unkeyed = [b for b in pinned if b not in keyed]
    if unkeyed:
        raise RigDojoError(f"reference.pin_bones: {', '.join(map(repr, unkeyed))} has no keys in the Action "
                           f"{action.name!r}; key it, or take it off the pin bones")
    every = sorted({int(f) for b in pinned for f in keyed[b]})
    if not ref.pin_frames:
        return pinned, every, None
    missing = [int(f) for f in ref.pin_frames if int(f) not in every]
    if missing:
        raise RigDojoError(f"reference.pin_frames: frame {', '.join(map(str, missing))} has no key on {what} in "
                           f"{action.name!r}; keyed frames: {', '.join(map(str, every))}")
    return pinned, every, sorted({int(f) for f in ref.pin_frames})


def _fps() -> float:
    render = bpy.context.scene.render
    return render.fps / render.fps_base


def object_position(name: str, frame: int, what: str) -> np.ndarray:
    """An object's evaluated world position at ``frame`` (RigDojoError with the closest names if it is missing)."""
    obj = bpy.data.objects.get(name)
    if obj is None:
        raise RigDojoError(f"{what}: no object named {name!r}{closest(name, bpy.data.objects.keys())}")
    with frames_preserved() as scene:
        scene.frame_set(frame)
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        return to_numpy(ev.matrix_world)[:3, 3].copy()
