"""Pose a creature in Blender the way the physics twin holds it: root motion and joint rotations."""

from __future__ import annotations



import bpy
import numpy as np

from ...errors import RigDojoError
from ..pose import set_rotation, to_numpy
from ...envs.physics.settings import ROOT_MOTION as _ROOT_MOTION_CHOICES

ROOT_MOTION = tuple(c[0] for c in _ROOT_MOTION_CHOICES)
from ...envs import kinematics as km
from ...envs.physics.mjcf import PhysicsSpec


def root_channels(obj, spec: PhysicsSpec, root_world: np.ndarray, root_motion: str = "bone"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(location (F,3), rotation matrix (F,3,3))`` that put the root bone at ``root_world (F,4,4)``.

    ``"bone"``: the root bone's pose location and rotation (its ``matrix_basis``);
    ``"object"``: the object's location and rotation (the root bone stays at rest).
    """
    w = np.asarray(root_world, dtype=np.float64)
    rest = spec.rest[0]
    r_r, h_r = rest[:3, :3], rest[:3, 3]
    mw = to_numpy(obj.matrix_world)
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
        set_rotation(pb, m)
    if root_motion == "bone":
        obj.pose.bones[spec.bone_names[0]].location = loc[0]
    else:
        obj.pose.bones[spec.bone_names[0]].location = (0.0, 0.0, 0.0)
        obj.location = loc[0]
        set_rotation(obj, rot[0])
    bpy.context.view_layer.update()
