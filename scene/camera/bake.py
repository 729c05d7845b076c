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
from ..pose import frames_preserved, to_numpy
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
    active = [c.name for c in cam.constraints if c.enabled and c.influence > 0]
    if active:
        raise RigDojoError(f"camera '{cam.name}' has active constraints ({', '.join(active)}) that would override "
                           "the baked move; disable or remove them and bake again")
    if cam.library is not None:
        raise RigDojoError(f"camera '{cam.name}' is linked from a library; make it local to bake")
    if cam.animation_data is not None and getattr(cam.animation_data, "use_tweak_mode", False):
        raise RigDojoError(f"camera '{cam.name}' is in NLA tweak mode; exit tweak mode (Tab) and bake again")
    return cam


def _local_to_parent(cam: bpy.types.Object, frames: np.ndarray, positions: np.ndarray,
                     rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World camera poses as the camera's own location and rotation under its (possibly animated) parent.

    The parent's part of the camera's world matrix, ``matrix_world @ matrix_basis^-1`` (object or bone
    parent, parent inverse included), is read from Blender at every frame. Refused with one line when it
    shears (a parent with non-uniform scale and a rotation), which a location and rotation cannot undo.
    """
    scene = bpy.context.scene
    loc = np.empty_like(positions)
    rot = np.empty_like(rotations)
    with frames_preserved(scene):
        for k, f in enumerate(frames):
            scene.frame_set(int(round(f)))
            ev = cam.evaluated_get(bpy.context.evaluated_depsgraph_get())
            parent_part = to_numpy(ev.matrix_world) @ np.linalg.inv(to_numpy(ev.matrix_basis))
            world = np.eye(4)
            world[:3, :3], world[:3, 3] = rotations[k], positions[k]
            local = np.linalg.inv(parent_part) @ world
            lin = local[:3, :3]
            scale = np.linalg.norm(lin, axis=0)
            gram = lin.T @ lin
            if np.abs(gram - np.diag(np.diag(gram))).max() > 1e-6 * scale.max() ** 2 or np.ptp(scale) > 1e-6 * scale.max():
                parent = cam.parent.name if cam.parent is not None else "?"
                raise RigDojoError(f"camera '{cam.name}''s parent '{parent}' has a non-uniform scale, so the "
                                   "camera's own location and rotation cannot hold the move; apply the parent's scale "
                                   "or clear the parent (Alt+P, Keep Transform) and bake again")
            loc[k], rot[k] = local[:3, 3], lin / scale
    return loc, rot


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
        camera: the camera object or its name (no active constraints; under a parent, object or bone,
            even an animated one, the keys are the camera's own transform that gives the move in world).
        move: the rollout (:func:`~rig_dojo.envs.camera.task.rollout`) or a solved path's move.
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
    positions, rotations = move.positions, move.rotations
    if cam.parent is not None:
        positions, rotations = _local_to_parent(cam, frames, positions, rotations)
    if undo_push:
        _undo_push("Before Rig Dojo camera bake")
    action, previous = new_action_on(cam, action_name or f"{cam.name}_dojo_camera")
    keys = 0
    for i in range(3):
        curve = anim.ensure_fcurve(action, cam, "location", i, group_name="Object Transforms")
        keys += anim.write_keys(curve, frames, positions[:, i])
    mode = cam.rotation_mode
    quats = continuous_quaternions(matrix_to_quaternion(rotations))
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
