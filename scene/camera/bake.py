"""Bake a camera move: location and rotation per frame (and the lens when it moves) into new Actions."""

from __future__ import annotations


import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

from ...errors import RigDojoError
from .. import anim
from .extract import get_object
from ..bake import BAKE_INFO_KEY, PROVENANCE_KEY, _idprop_value, _undo_push, new_action_on
from ...envs.camera.task import CameraRollout
from ...envs.keyreduce import continuous_quaternions, quaternion_to_channels
from ...envs.kinematics import matrix_to_quaternion


@dataclass(frozen=True)
class CameraBakeResult:
    """What :func:`bake_camera` wrote."""

    action_name: str
    lens_action_name: str | None
    keys_written: int
    seconds: float
    previous_action: str | None


def _check_camera(camera: Any) -> bpy.types.Object:
    cam = get_object(camera, "camera")
    if cam is None or cam.type != 'CAMERA':
        raise RigDojoError("baking a camera move needs a camera object; pick the shot's camera")
    if cam.parent is not None:
        raise RigDojoError(f"camera '{cam.name}' has a parent ('{cam.parent.name}'); the bake writes world "
                           "transforms: clear the parent (Alt+P, Keep Transform) and bake again")
    active = [c.name for c in cam.constraints if c.enabled and c.influence > 0]
    if active:
        raise RigDojoError(f"camera '{cam.name}' has active constraints ({', '.join(active)}) that would override "
                           "the baked move; disable or remove them and bake again")
    if cam.library is not None:
        raise RigDojoError(f"camera '{cam.name}' is linked from a library; make it local to bake")
    if cam.animation_data is not None and getattr(cam.animation_data, "use_tweak_mode", False):
        raise RigDojoError(f"camera '{cam.name}' is in NLA tweak mode; exit tweak mode (Tab) and bake again")
    return cam


def bake_camera(
    camera: Any,
    move: CameraRollout,
    action_name: str | None = None,
    bake_lens: bool | None = None,
    provenance: Mapping[str, Any] | None = None,
    undo_push: bool = False,
) -> CameraBakeResult:
    """Key ``move`` (location, rotation per frame; lens when it changes) on ``camera`` into new Actions.

    The rotation is keyed in the camera's ``rotation_mode`` (Euler angles continuous across
    frames, quaternions sign-continuous). Keys are LINEAR, one per frame, so Blender shows
    exactly the rollout at every frame. Scale is left alone.

    Args:
        camera: the camera object or its name (no parent, no active constraints).
        move: the rollout (:func:`~.camera_task.rollout`).
        action_name: name of the new Action (default ``"<camera>_dojo_camera"``; Blender makes it unique).
        bake_lens: key ``data.lens`` too (default: when the lens changes in ``move``).
        provenance: where the move came from, stored as the custom property ``rig_dojo_source``.
        undo_push: push undo steps around the bake (scripts, tests); leave False in an operator.
    """
    t0 = time.perf_counter()
    cam = _check_camera(camera)
    frames = np.asarray(move.frames, dtype=np.float64)
    for arr, what in ((move.positions, "positions"), (move.rotations, "rotations"), (move.lens, "lens")):
        if len(arr) != len(frames) or not np.all(np.isfinite(arr)):
            raise RigDojoError(f"the camera move's {what} are not one finite row per frame; roll out again")
    if bake_lens is None:
        bake_lens = bool(np.ptp(move.lens) > 1e-6)
    if undo_push:
        _undo_push("Before Rig Dojo camera bake")
    action, previous = new_action_on(cam, action_name or f"{cam.name}_dojo_camera")
    keys = 0
    for i in range(3):
        curve = anim.ensure_fcurve(action, cam, "location", i, group_name="Object Transforms")
        keys += anim.write_keys(curve, frames, move.positions[:, i])
    mode = cam.rotation_mode
    quats = continuous_quaternions(matrix_to_quaternion(move.rotations))
    if mode == "QUATERNION":
        path, channels = "rotation_quaternion", quats
    elif mode == "AXIS_ANGLE":
        path, channels = "rotation_axis_angle", quaternion_to_channels(quats, mode)
    else:
        path, channels = "rotation_euler", quaternion_to_channels(quats, mode)
    for i in range(channels.shape[1]):
        curve = anim.ensure_fcurve(action, cam, path, i, group_name="Object Transforms")
        keys += anim.write_keys(curve, frames, channels[:, i])
    info = {"camera": cam.name, "frame_start": float(frames[0]), "frame_end": float(frames[-1]),
            "frames": int(frames.size), "previous_action": previous or "", "keys_written": int(keys),
            "baked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    lens_name = None
    if bake_lens:
        lens_action, _ = new_action_on(cam.data, f"{cam.data.name}_dojo_lens")
        curve = anim.ensure_fcurve(lens_action, cam.data, "lens", 0, group_name="Lens")  # type: ignore[arg-type]  # checked above / a camera has data
        keys += anim.write_keys(curve, frames, move.lens)
        lens_action[PROVENANCE_KEY] = _idprop_value(dict(provenance or {}))
        lens_name = lens_action.name
        info["lens_action"] = lens_name
    info["keys_written"] = int(keys)
    action[BAKE_INFO_KEY] = info
    action[PROVENANCE_KEY] = _idprop_value(dict(provenance or {}))
    if undo_push:
        _undo_push("Rig Dojo camera bake")
    return CameraBakeResult(action.name, lens_name, keys, time.perf_counter() - t0, previous)
