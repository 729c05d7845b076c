"""Small bpy helpers every family's edge uses: frames, matrices, rotations, and undoing a preview.

- :func:`frames_preserved`: step the scene through frames and always come back to the frame (and
  sub-frame) the user was on;
- :func:`to_numpy`: a ``mathutils.Matrix`` (or any nested sequence) as a float64 array;
- :func:`set_rotation`: put a rotation matrix on a pose bone or an object in its own rotation mode;
- :class:`PoseBackup` / :class:`TransformBackup`: save and restore what a preview or a check moves.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import bpy
import numpy as np

from ..envs import kinematics as km


@contextlib.contextmanager
def frames_preserved(scene=None) -> Iterator[bpy.types.Scene]:
    """``with frames_preserved() as scene: scene.frame_set(f) ...``: the current frame and sub-frame are
    restored afterwards, whatever happens inside."""
    scene = scene or bpy.context.scene
    saved = (scene.frame_current, scene.frame_subframe)
    try:
        yield scene
    finally:
        scene.frame_set(saved[0], subframe=saved[1])


def set_frame(scene, frame: float) -> None:
    """Go to ``frame``, a whole or fractional frame number (sub-frames are evaluated like Blender's)."""
    whole = int(np.floor(frame))
    scene.frame_set(whole, subframe=float(frame - whole))


def to_numpy(matrix) -> np.ndarray:
    """A matrix (``mathutils.Matrix`` or nested rows) as a float64 array."""
    return np.array([list(row) for row in matrix], dtype=np.float64)


def set_rotation(holder, m: np.ndarray) -> None:
    """Set the 3x3 rotation ``m`` on a pose bone or an object, in its rotation mode."""
    values = km.rotation_values(np.asarray(m, dtype=np.float64)[:3, :3], holder.rotation_mode)
    if holder.rotation_mode == 'QUATERNION':
        holder.rotation_quaternion = values
    elif holder.rotation_mode == 'AXIS_ANGLE':
        holder.rotation_axis_angle = values
    else:
        holder.rotation_euler = values


class PoseBackup:
    """Save and restore the rotation and location channels of some pose bones (never leave the user's pose
    changed)."""

    def __init__(self, obj, names):
        self.obj = obj
        self.values = {n: (tuple(obj.pose.bones[n].rotation_quaternion), tuple(obj.pose.bones[n].rotation_euler),
                           tuple(obj.pose.bones[n].rotation_axis_angle), tuple(obj.pose.bones[n].location))
                       for n in names}

    def restore(self) -> None:
        for n, (q, e, aa, loc) in self.values.items():
            pb = self.obj.pose.bones[n]
            pb.rotation_quaternion, pb.rotation_euler, pb.rotation_axis_angle = q, e, aa
            pb.location = loc
        bpy.context.view_layer.update()

    def restore_on(self, obj) -> None:
        """Restore onto ``obj`` (the same rig looked up again after an undo), skipping bones it lost."""
        if obj is None or obj.pose is None:
            return
        self.obj = obj
        self.values = {n: v for n, v in self.values.items() if n in obj.pose.bones}
        self.restore()


class BonePreview:
    """Plays preview frames ``(B, 3)`` (Euler XYZ per bone of ``bones``) on an armature and restores the bones'
    rotations afterwards; ``pose(obj, rotations)`` puts ``(B, 3, 3)`` rotations on the bones."""

    def __init__(self, obj, bones, pose=None):
        self.object_name = obj.name
        self.bones = tuple(bones)
        self.backup = PoseBackup(obj, list(self.bones))
        self._pose = pose or self._set_each

    def _set_each(self, obj, rotations: np.ndarray) -> None:
        for name, m in zip(self.bones, rotations):  # each bone in its own rotation mode
            set_rotation(obj.pose.bones[name], m)

    def show(self, obj, frame) -> bool:
        if obj.type != 'ARMATURE' or len(frame) != len(self.bones) or not all(n in obj.pose.bones for n in self.bones):
            return False  # the rig changed under the preview: skip it, the training goes on
        self._pose(obj, km.euler_xyz_to_matrix(np.asarray(frame, dtype=np.float64)))
        return True

    def restore(self, obj) -> None:
        self.backup.restore_on(obj)


class TransformBackup:
    """Save and restore an object's location, rotation (every mode's channels) and scale."""

    def __init__(self, obj):
        self.obj = obj
        self.values = (tuple(obj.location), tuple(obj.rotation_euler), tuple(obj.rotation_quaternion),
                       tuple(obj.rotation_axis_angle), tuple(obj.scale))

    def restore(self) -> None:
        obj = self.obj
        obj.location, obj.rotation_euler, obj.rotation_quaternion, obj.rotation_axis_angle, obj.scale = self.values
        bpy.context.view_layer.update()

    def restore_on(self, obj) -> None:
        if obj is None:
            return
        self.obj = obj
        self.restore()
