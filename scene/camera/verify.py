"""Check a baked camera in Blender: the subject's place in the image (``world_to_camera_view``) per frame."""

from __future__ import annotations


from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

from ..pose import frames_preserved, to_numpy
from .extract import get_object, subject_sample
from ...envs.camera.task import CameraRollout
from ...envs.camera.twin import CameraSpec


@dataclass(frozen=True)
class CameraVerification:
    """Baked camera vs rollout, measured in Blender.

    ``image_error``: the worst distance (normalised image units) between the subject's
    projection by ``world_to_camera_view`` of the baked camera and the rollout's;
    ``position_error``: the worst camera position difference (scene units);
    ``worst_frame``: where ``image_error`` happened; ``frames_compared``: frames where the
    subject was in front of the camera and within a frame's width of the frame's edge (far
    outside it image coordinates grow without bound and float32 keys dominate the difference).
    """

    image_error: float
    position_error: float
    worst_frame: float
    frames_compared: int = 0

    def ok(self, tolerance: float = 1e-3) -> bool:
        return self.image_error <= tolerance


def verify_camera_bake(camera: Any, spec: CameraSpec, move: CameraRollout,
                       scene: bpy.types.Scene | None = None) -> CameraVerification:
    """Play the baked camera frame by frame and compare the subject's projection with ``move``.

    The subject is re-sampled from Blender's evaluation at each frame (so this checks the
    extraction as well as the bake). Only frames where the subject is in front of the camera and
    within one frame size of the frame (``-1 <= u, v <= 2``) are compared.
    """
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = scene or bpy.context.scene
    cam = get_object(camera, "camera")
    subj = get_object(spec.subject_name, "subject")
    worst, worst_frame, worst_pos, compared = 0.0, float(move.frames[0]), 0.0, 0
    with frames_preserved(scene):
        for k, f in enumerate(move.frames):
            scene.frame_set(int(f))
            dg = bpy.context.evaluated_depsgraph_get()
            cam_eval = cam.evaluated_get(dg)
            centre, _ = subject_sample(subj.evaluated_get(dg), spec.subject_bone)
            worst_pos = max(worst_pos, float(np.linalg.norm(to_numpy(cam_eval.matrix_world)[:3, 3] - move.positions[k])))
            if move.subject_depth[k] <= 0 or not np.all((move.subject_uv[k] >= -1.0) & (move.subject_uv[k] <= 2.0)):
                continue
            compared += 1
            p = world_to_camera_view(scene, cam_eval, Vector(centre.tolist()))  # type: ignore[arg-type]
            err = float(np.hypot(p.x - move.subject_uv[k, 0], p.y - move.subject_uv[k, 1]))
            if err > worst:
                worst, worst_frame = err, float(f)
    return CameraVerification(worst, worst_pos, worst_frame, compared)
