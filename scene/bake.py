"""Bake learned motion to keyframes, and check the bake against what was trained (the bpy edge).

:func:`bake_pose_rotations` writes the local pose rotation of control bones
into a **new** Action with bulk F-curve writes (through :mod:`.anim`, the one
home of the Blender-version shims); :func:`verify_bake` re-evaluates the baked
Action in Blender frame by frame and returns the worst error against the
input, the "what was trained is what is baked" number (DESIGN.md, step 5).

Never destroying the user's work (DESIGN.md, rule 6):

* the bake goes into a new Action (Blender makes its name unique); an existing
  Action is written only when ``replace_action`` names it, and then only the
  rotation F-curves of the baked bones are replaced, in this object's own slot
  (4.4+; on 4.2 an Action has no slots, so another object using it sees the change);
* the object's previous Action stays in ``bpy.data``, untouched, and gets a
  **fake user** so it survives saving even with no other user. With ``layer``
  (the rig bakes) it is pushed down onto an NLA track below the new Action
  (:func:`new_layer_on`), so every channel the bake does not key keeps playing it
  (a mocap body keeps walking under a baked arm); the rig's twin samples that
  animation per frame, so the verification number still describes what the user
  sees. Without ``layer`` (the physics bake, which simulates every bone it keys) the
  new Action replaces it. Its name is recorded on the new Action
  (``rig_dojo_bake["previous_action"]``, and ``["layered"]``: where the keys went);
* undo: an operator calling this with ``bl_options={'REGISTER', 'UNDO'}``
  gets one undo step from Blender (pushed after ``execute``). Scripts and
  tests pass ``undo_push=True``: the state before is pushed (also initialising
  the undo system, which background mode leaves off until the first push) and
  the bake after it, so one ``bpy.ops.ed.undo()`` reverts the whole bake.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import bpy
import numpy as np

from ..errors import RigDojoError, a_or_an
from . import anim
from .pose import frames_preserved, set_frame
from ..envs.keyreduce import (
    EULER_ORDERS,
    continuous_quaternions,
    euler_to_quaternion,
    interpolated_rotation_error,
    matrix_rotation_angle,
    quaternion_to_channels,
    quaternion_to_matrix,
    reduce_rotations,
)

# The F-curve data path of each rotation mode's channels.
ROTATION_PATH = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}
ROTATION_PATH.update({order: "rotation_euler" for order in EULER_ORDERS})
_ALL_ROTATION_CHANNELS = (("rotation_quaternion", 4), ("rotation_euler", 3), ("rotation_axis_angle", 4))

PROVENANCE_KEY = "rig_dojo_source"
BAKE_INFO_KEY = "rig_dojo_bake"


@dataclass(frozen=True)
class BakeResult:
    """What a bake wrote.

    ``reduction_ratio`` is the fraction of the dense keys that were written
    (``keys_written / (frames × channels)``): 1.0 without reduction, smaller is
    fewer keys. ``max_reduction_error_degrees`` is the worst geodesic error the
    reduction allowed at a dropped frame (0.0 without reduction); the number to
    show the user is :func:`verify_bake`'s, measured in Blender.
    """

    action_name: str
    keys_written: int
    seconds: float
    reduction_ratio: float
    previous_action: str | None = None
    max_reduction_error_degrees: float = 0.0
    layered: str = ""  # where the keys went over the existing animation, in words ("" when nothing was layered)


class BakeVerification(float):
    """The worst rotation error of a bake, in degrees (a ``float``), with where it happened.

    ``position_error`` is the worst distance (scene units) of a tracked point
    from its input world position, or ``None`` when none were given.
    """

    position_error: float | None
    worst_bone: str
    worst_frame: float

    def __new__(cls, degrees: float, position_error: float | None, worst_bone: str, worst_frame: float):
        self = super().__new__(cls, degrees)
        self.position_error = position_error
        self.worst_bone = worst_bone
        self.worst_frame = worst_frame
        return self

    @property
    def degrees(self) -> float:
        return float(self)

    def __repr__(self) -> str:
        pos = "" if self.position_error is None else f", position_error={self.position_error:.3g}"
        return f"BakeVerification({float(self):.3g}°, bone={self.worst_bone!r}, frame={self.worst_frame:g}{pos})"


# --- input checks ---------------------------------------------------------------------------


def _check_armature(obj: Any) -> bpy.types.Object:
    if not isinstance(obj, bpy.types.Object):
        raise RigDojoError(
            f"Baking needs an armature object, got {type(obj).__name__}. Select the rig (an Armature object) and bake again."
        )
    if obj.type != 'ARMATURE' or obj.pose is None:
        raise RigDojoError(
            f"'{obj.name}' is {a_or_an(obj.type.lower())} object, not an armature. Select the rig (an Armature object) and bake again."
        )
    return obj


def _check_bones(obj: bpy.types.Object, bone_names: Sequence[str]) -> list[str]:
    if isinstance(bone_names, str):
        bone_names = [bone_names]
    names = list(bone_names)
    if not names:
        raise RigDojoError("No bones to bake. Pick at least one control bone of the rig.")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RigDojoError(f"Bone '{name}' is listed twice. List each control bone once.")
        seen.add(name)
        if obj.pose.bones.get(name) is None:
            known = ", ".join(b.name for b in obj.pose.bones[:8]) + (", ..." if len(obj.pose.bones) > 8 else "")
            raise RigDojoError(
                f"Bone '{name}' is not in armature '{obj.name}' (its bones: {known or 'none'}). "
                "Pick control bones of this rig, or bake onto the rig the policy was trained on."
            )
    return names


def _check_frames(frames: Any) -> np.ndarray:
    try:
        f = np.asarray(frames, dtype=np.float64)
    except (TypeError, ValueError):
        raise RigDojoError("Frames must be a list of frame numbers. Pass one number per baked frame.") from None
    if f.ndim != 1:
        raise RigDojoError(f"Frames must be one list of frame numbers, got an array of shape {f.shape}.")
    if f.size == 0:
        raise RigDojoError("No frames to bake. Roll the policy out for at least one frame and bake again.")
    if not np.all(np.isfinite(f)):
        raise RigDojoError("Frames contain NaN or infinity. Pass finite frame numbers.")
    if f.size > 1 and np.any(np.diff(f) <= 0):
        raise RigDojoError("Frames must be strictly increasing. Sort them and remove duplicates.")
    return f


def _check_rotations(euler_xyz: Any, n_frames: int, names: list[str]) -> np.ndarray:
    try:
        e = np.asarray(euler_xyz, dtype=np.float64)
    except (TypeError, ValueError):
        raise RigDojoError("Rotations must be a numeric array of shape (frames, bones, 3).") from None
    if e.ndim != 3 or e.shape[2] != 3:
        raise RigDojoError(
            f"Rotations must have shape (frames, bones, 3) (Euler XYZ radians), got {e.shape}."
        )
    if e.shape[0] != n_frames:
        raise RigDojoError(
            f"{n_frames} frames but {e.shape[0]} rows of rotations. Pass one row of rotations per frame."
        )
    if e.shape[1] != len(names):
        raise RigDojoError(
            f"{len(names)} bones but rotations for {e.shape[1]}. Pass one rotation per bone, in the order of the bone names."
        )
    bad = ~np.isfinite(e)
    if bad.any():
        frame_i, bone_i, _ = np.argwhere(bad)[0]
        raise RigDojoError(
            f"Rotations contain NaN or infinity ({int(bad.sum())} values, first at row {frame_i}, bone '{names[bone_i]}'). "
            "The rollout diverged: check the policy and the twin, and bake a rollout with finite values."
        )
    return e


# --- provenance -----------------------------------------------------------------------------


def _idprop_value(value: Any) -> Any:
    """``value`` as something an ID property can hold (dicts, lists, str, int, float)."""
    if isinstance(value, Mapping):
        return {str(k): _idprop_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (PurePath, bytes)):
        return str(value) if isinstance(value, PurePath) else value.hex()
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [_idprop_value(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
        if all(isinstance(v, (int, float)) for v in items) or all(isinstance(v, str) for v in items):
            return items
        return {str(i): v for i, v in enumerate(items)}
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return _idprop_value(asdict(value))
    return str(value)


# --- bake -----------------------------------------------------------------------------------


def _undo_push(message: str) -> None:
    # Polls False only without a window manager window (a file read with no UI data); then
    # there is no undo stack to push to and the bake is simply not undoable there.
    if bpy.ops.ed.undo_push.poll():  # type: ignore[call-arg]
        bpy.ops.ed.undo_push(message=message)


def new_action_on(owner, name: str, replace: bpy.types.Action | None = None) -> tuple[bpy.types.Action, str | None]:
    """Assign a new Action named ``name`` (or the Action ``replace``) to ``owner``; its previous Action is
    kept with a fake user so it survives with no user left (DESIGN.md, rule 6). Returns the Action and
    the previous one's name (None if there was none, or it is the same)."""
    anim_data = owner.animation_data
    previous = anim_data.action if anim_data is not None else None
    action = replace if replace is not None else anim.new_action(name)
    if previous is not None and previous != action and not previous.use_fake_user:
        previous.use_fake_user = True
    anim.assign_action(owner, action)
    return action, previous.name if previous is not None and previous != action else None


def _played_by_nla(owner, action) -> bool:
    anim_data = owner.animation_data
    return anim_data is not None and any(not t.mute and any(st.action == action and not st.mute for st in t.strips)
                                         for t in anim_data.nla_tracks)


def new_layer_on(owner, name: str, frames: tuple[float, float] | None = None
                 ) -> tuple[bpy.types.Action, str | None, str]:
    """A new active Action named ``name`` on ``owner`` *over* its existing animation (DESIGN.md, rule 6): the
    Action it played is pushed down onto an NLA track of its own (``anim.push_down``; the Action itself is not
    touched) unless an NLA strip already plays it, so every channel the new Action does not key keeps playing
    the old animation. Returns the Action, the previous Action's name (or None) and where the keys went, in
    words ("" when there was no animation to layer over)."""
    anim_data = owner.animation_data
    if anim_data is not None and getattr(anim_data, "use_tweak_mode", False):
        raise RigDojoError(f"'{owner.name}' is in NLA tweak mode. Exit tweak mode in the NLA editor (Tab) and bake "
                           "again.")
    previous = anim_data.action if anim_data is not None else None
    track = None
    if previous is not None and not _played_by_nla(owner, previous):
        track = anim.push_down(owner, frames)
        if not previous.use_fake_user:
            previous.use_fake_user = True
    action, replaced = new_action_on(owner, name)
    previous_name = previous.name if previous is not None else replaced
    if track is not None:
        where = (f"layered over {previous_name!r}, now played by the NLA track {track.name!r} below it: the bones "
                 "the bake does not key keep their animation")
    elif anim_data is not None and any(not t.mute and len(t.strips) for t in anim_data.nla_tracks):
        where = "layered over the NLA tracks: the bones the bake does not key keep their animation"
    else:
        where = ""
    return action, previous_name, where


def bake_pose_rotations(
    obj: bpy.types.Object,
    bone_names: Sequence[str],
    frames: Sequence[float] | np.ndarray,
    euler_xyz: np.ndarray,
    action_name: str | None = None,
    replace_action: str | None = None,
    reduce_degrees: float | None = None,
    provenance: Mapping[str, Any] | None = None,
    undo_push: bool = False,
    layer: bool = False,
) -> BakeResult:
    """Key the local pose rotation of ``bone_names`` over ``frames`` into a new Action on ``obj``.

    Parameters
    ----------
    obj:
        the armature object.
    bone_names:
        the control bones, in the order of ``euler_xyz``'s second axis.
    frames:
        ``(F,)`` strictly increasing frame numbers (sub-frames allowed).
    euler_xyz:
        ``(F, B, 3)`` each bone's local pose rotation (the rotation of
        ``pose_bone.matrix_basis``) as Euler XYZ radians. Each bone is keyed
        in its own ``rotation_mode``: quaternions sign-continuous, Euler
        angles of any order continuous (no 2π jumps, the nearer of the two
        solutions), axis-angle with a continuous axis. Keys are LINEAR.
    action_name:
        name of the new Action (default ``"<object>_dojo_bake"``); Blender
        appends ``.001`` etc. if the name is taken, so nothing is overwritten.
    replace_action:
        name of an existing Action to write into instead; only the rotation
        F-curves of the baked bones are replaced, every other curve stays.
    reduce_degrees:
        if given, drop keys while every frame stays within this many degrees
        (geodesic) of the input; see :mod:`.keyreduce`.
    provenance:
        where the motion came from (run folder, policy hash, seed, config),
        stored on the Action as the custom property ``rig_dojo_source``.
    undo_push:
        push undo steps before and after, so one undo reverts the bake; leave
        False inside an operator with ``'UNDO'`` in its ``bl_options``.
    layer:
        bake over the object's animation (:func:`new_layer_on`: its Action moves to an NLA track below the
        new one, the bones not keyed keep playing it) instead of replacing its active Action.

    Raises
    ------
    RigDojoError
        for a non-armature object, unknown or repeated bones, empty or unsorted
        frames, a shape mismatch, NaN or infinite values, a bad tolerance, an
        unknown ``replace_action`` or an object in NLA tweak mode.
    """
    start = time.perf_counter()
    obj = _check_armature(obj)
    names = _check_bones(obj, bone_names)
    f = _check_frames(frames)
    euler = _check_rotations(euler_xyz, f.size, names)
    if reduce_degrees is not None and not (math.isfinite(reduce_degrees) and reduce_degrees > 0):
        raise RigDojoError(f"Key reduction tolerance must be a positive number of degrees, got {reduce_degrees}.")
    target = None
    if replace_action is not None:
        target = bpy.data.actions.get(replace_action)
        if target is None:
            raise RigDojoError(
                f"There is no Action named '{replace_action}' to replace. Pick an existing Action, or leave it empty to bake into a new one."
            )
        if not anim.has_slots(target):
            # Blender 4.2: an Action has no slots, so its curves are shared by every object that uses it
            others = sorted(o.name for o in bpy.data.objects if o != obj and o.animation_data is not None
                            and o.animation_data.action == target)
            if others:
                raise RigDojoError(
                    f"The Action '{replace_action}' also animates {', '.join(others)}; in this Blender version "
                    "replacing its curves would change them too. Bake into a new Action instead."
                )
    anim_data = obj.animation_data
    if anim_data is not None and getattr(anim_data, "use_tweak_mode", False):
        raise RigDojoError(f"'{obj.name}' is in NLA tweak mode. Exit tweak mode in the NLA editor (Tab) and bake again.")
    if obj.library is not None:
        raise RigDojoError(f"'{obj.name}' is linked from a library and cannot be keyed. Make it local or use a library override.")

    if undo_push:
        _undo_push("Before Rig Dojo bake")

    modes = [obj.pose.bones[name].rotation_mode for name in names]
    quats = continuous_quaternions(euler_to_quaternion(euler, "XYZ"))  # (F, B, 4)

    layered = ""
    if layer and target is None:
        action, previous, layered = new_layer_on(obj, action_name or f"{obj.name}_dojo_bake", (f[0], f[-1]))
    else:
        action, previous = new_action_on(obj, action_name or f"{obj.name}_dojo_bake", replace=target)
    if target is not None:  # replace only the rotation curves of the baked bones, in this object's slot
        for name in names:
            for prop, count in _ALL_ROTATION_CHANNELS:
                for index in range(count):
                    anim.remove_fcurve(action, obj, f'pose.bones["{_escape(name)}"].{prop}', index)

    channels_of = []
    for b, mode in enumerate(modes):
        if mode == "XYZ":
            channels_of.append(euler[:, b])  # exactly what was trained, turns beyond ±π included
        elif mode == "QUATERNION":
            channels_of.append(quats[:, b])  # already unit and sign-continuous
        else:
            channels_of.append(quaternion_to_channels(quats[:, b], mode))
    kept_of: list[np.ndarray | None] = [None] * len(names)
    worst_reduction = 0.0
    if reduce_degrees is not None:
        kept_of = list(reduce_rotations(f, channels_of, modes, reduce_degrees))
        for channels, kept, mode in zip(channels_of, kept_of, modes):
            worst_reduction = max(worst_reduction, float(interpolated_rotation_error(f, channels, kept, mode).max()))

    keys = dense = 0
    for name, mode, channels, kept in zip(names, modes, channels_of, kept_of):
        path = f'pose.bones["{_escape(name)}"].{ROTATION_PATH[mode]}'
        key_frames = f if kept is None else f[kept]
        for index in range(channels.shape[1]):
            curve = anim.ensure_fcurve(action, obj, path, index, group_name=name)
            column = channels[:, index] if kept is None else channels[kept, index]
            keys += anim.write_keys(curve, key_frames, column)
            dense += f.size

    info = {
        "object": obj.name,
        "bones": names,
        "rotation_modes": modes,
        "frame_start": float(f[0]),
        "frame_end": float(f[-1]),
        "frames": int(f.size),
        "reduce_degrees": float(reduce_degrees or 0.0),
        "keys_written": int(keys),
        "previous_action": previous or "",
        "layered": layered,
        "baked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    action[BAKE_INFO_KEY] = info
    action[PROVENANCE_KEY] = _idprop_value(dict(provenance or {}))

    if undo_push:
        _undo_push("Rig Dojo bake")
    return BakeResult(
        action_name=action.name,
        keys_written=keys,
        seconds=time.perf_counter() - start,
        reduction_ratio=keys / dense if dense else 1.0,
        previous_action=info["previous_action"] or None,
        max_reduction_error_degrees=worst_reduction,
        layered=layered,
    )


def _escape(name: str) -> str:
    """A bone name as it appears inside ``pose.bones["..."]``."""
    return name.replace("\\", "\\\\").replace('"', '\\"')


# --- verify ---------------------------------------------------------------------------------


def _tracked_arrays(tracked: Any, n_frames: int) -> tuple[list[str], np.ndarray]:
    if isinstance(tracked, Mapping):
        names = [str(k) for k in tracked]
        pos = np.stack([np.asarray(tracked[k], dtype=np.float64) for k in tracked], axis=1) if names else np.zeros((n_frames, 0, 3))
    else:
        try:
            names_in, pos_in = tracked
        except (TypeError, ValueError):
            raise RigDojoError("Tracked positions must be {bone name: (F, 3) array} or (names, (F, T, 3) array).") from None
        names = [str(n) for n in names_in]
        pos = np.asarray(pos_in, dtype=np.float64)
    if pos.shape != (n_frames, len(names), 3):
        raise RigDojoError(
            f"Tracked positions must have shape ({n_frames}, {len(names)}, 3) (frames, tracked bones, xyz), got {pos.shape}."
        )
    if not np.all(np.isfinite(pos)):
        raise RigDojoError("Tracked positions contain NaN or infinity. Pass the rollout's finite positions.")
    return names, pos


def verify_bake(
    obj: bpy.types.Object,
    bone_names: Sequence[str],
    frames: Sequence[float] | np.ndarray,
    euler_xyz: np.ndarray,
    tracked: Mapping[str, np.ndarray] | tuple[Sequence[str], np.ndarray] | None = None,
    tracked_point: str = "tail",
) -> BakeVerification:
    """Evaluate ``obj`` in Blender at every frame and return the worst rotation error (degrees).

    For each frame the scene is set to it (``scene.frame_set``, sub-frames
    honoured), the evaluated pose bones' ``matrix_basis`` rotation is compared
    with the input Euler XYZ rotation, and the largest geodesic angle over
    bones and frames is returned as a :class:`BakeVerification` (a float).

    ``tracked`` adds positions: ``{bone name: (F, 3)}`` or ``(names, (F, T, 3))``
    world-space positions of each tracked bone's ``tracked_point`` (``"tail"``
    or ``"head"``); the worst distance is ``result.position_error``. The
    scene's current frame is restored afterwards.
    """
    obj = _check_armature(obj)
    names = _check_bones(obj, bone_names)
    f = _check_frames(frames)
    euler = _check_rotations(euler_xyz, f.size, names)
    if tracked_point not in ("head", "tail"):
        raise RigDojoError(f"tracked_point must be 'head' or 'tail', got {tracked_point!r}.")
    tracked_names, tracked_pos = ([], None) if tracked is None else _tracked_arrays(tracked, f.size)
    if tracked is not None:
        _check_bones(obj, tracked_names)

    all_bones = [pb.name for pb in obj.pose.bones]
    rows = np.array([all_bones.index(n) for n in names])
    tracked_rows = np.array([all_bones.index(n) for n in tracked_names], dtype=np.int64)
    expected = quaternion_to_matrix(euler_to_quaternion(euler, "XYZ"))  # (F, B, 3, 3)
    baked = np.empty_like(expected)
    positions = np.empty((f.size, len(tracked_names), 3))
    buf = np.empty(len(all_bones) * 16, dtype=np.float32)
    pbuf = np.empty(len(all_bones) * 3, dtype=np.float32)

    with frames_preserved() as scene:
        for i, frame in enumerate(f):
            set_frame(scene, frame)
            evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
            evaluated.pose.bones.foreach_get("matrix_basis", buf)
            # foreach_get gives Blender's column-major float[4][4]: transpose to rows.
            m = buf.reshape(-1, 4, 4)[rows, :3, :3].transpose(0, 2, 1).astype(np.float64)
            baked[i] = m / np.linalg.norm(m, axis=1, keepdims=True)  # drop any pose scale
            if len(tracked_names):
                evaluated.pose.bones.foreach_get(tracked_point, pbuf)
                local = pbuf.reshape(-1, 3)[tracked_rows].astype(np.float64)
                world = np.array(evaluated.matrix_world, dtype=np.float64)
                positions[i] = local @ world[:3, :3].T + world[:3, 3]

    err = np.degrees(matrix_rotation_angle(expected, baked))  # (F, B)
    worst = np.unravel_index(int(np.argmax(err)), err.shape)
    position_error = None
    if tracked_pos is not None and len(tracked_names):
        position_error = float(np.linalg.norm(positions - tracked_pos, axis=-1).max())
    elif tracked_pos is not None:
        position_error = 0.0
    return BakeVerification(float(err[worst]), position_error, names[worst[1]], float(f[worst[0]]))
