"""Bake a simulated clip onto the rig: root motion (root bone or object) and joint rotations in a new Action."""

from __future__ import annotations

# no bpy: it keys through scene.anim and scene.bake, which do


from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import RigDojoError
from .. import anim
from .pose import root_channels
from ...envs import kinematics as km
from ..bake import BAKE_INFO_KEY, BakeResult, bake_pose_rotations
from ..kinematic.extract import get_armature
from ...envs.keyreduce import continuous_quaternions, quaternion_to_channels
from ...envs.physics.mjcf import PhysicsSpec


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
    action[BAKE_INFO_KEY]["root_motion"] = root_motion
    return BakeResult(action_name=result.action_name, keys_written=keys, seconds=result.seconds,
                      reduction_ratio=1.0, previous_action=result.previous_action)
