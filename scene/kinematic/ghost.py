"""The pins' poses drawn as a ghost in the 3D viewport while the preview plays (the bpy edge).

Each pose pin is drawn as the rig's compiled bones in that pose (a line per bone, from the twin's forward
kinematics, which is Blender's own evaluation: the twin is verified exact), each effector pin as a point
where the bone must be. Nothing is added to the scene: a ``SpaceView3D`` draw handler draws the lines and
is removed when the preview ends. The geometry is computed once, in numpy, when the training starts.
"""

from __future__ import annotations

import bpy
import numpy as np

from ...envs.kinematic.twin import RigTwin

GHOST_COLOR = (0.35, 0.8, 1.0, 0.8)
POINT_COLOR = (1.0, 0.6, 0.15, 1.0)


def ghost_geometry(task) -> tuple[np.ndarray, np.ndarray]:
    """World-space ``(segments (S, 2, 3), points (E, 3))``: every compiled bone of every pose pin's pose,
    head to tail, and the targets of the effector pins (``task``: a KinematicTask with pins)."""
    pins = task.pins
    rig = task.spec.rig
    if pins is None:
        return np.zeros((0, 2, 3)), np.zeros((0, 3))
    pose = np.flatnonzero(pins.is_pose)
    segments = np.zeros((0, 2, 3))
    if pose.size:
        nodes = RigTwin(rig).forward(pins.pin_rot[pose], all_nodes=True)  # (Pp, N, 4, 4)
        heads = nodes[..., :3, 3]
        tails = heads + nodes[..., :3, 1] * rig.lengths[None, :, None]
        segments = np.stack([heads, tails], axis=2).reshape(-1, 2, 3)
    points = pins.target[~pins.is_pose] * task.unit + task.origin
    return segments, points


class GhostDrawer:
    """A 3D-viewport draw handler for ghost lines and points; :meth:`remove` takes it away."""

    def __init__(self, segments: np.ndarray, points: np.ndarray):
        self.segments = np.asarray(segments, dtype=np.float32).reshape(-1, 3)
        self.points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        self.handle = bpy.types.SpaceView3D.draw_handler_add(self.draw, (), 'WINDOW', 'POST_VIEW')

    def draw(self) -> None:  # pragma: no cover - only called by a window's redraw (never in background mode)
        import gpu
        from gpu_extras.batch import batch_for_shader

        shader = gpu.shader.from_builtin('UNIFORM_COLOR')
        gpu.state.blend_set('ALPHA')
        gpu.state.line_width_set(2.0)
        if len(self.segments):
            batch = batch_for_shader(shader, 'LINES', {"pos": self.segments.tolist()})
            shader.uniform_float("color", GHOST_COLOR)
            batch.draw(shader)
        if len(self.points):
            gpu.state.point_size_set(10.0)
            batch = batch_for_shader(shader, 'POINTS', {"pos": self.points.tolist()})
            shader.uniform_float("color", POINT_COLOR)
            batch.draw(shader)
        gpu.state.blend_set('NONE')

    def remove(self) -> None:
        if self.handle is not None:
            bpy.types.SpaceView3D.draw_handler_remove(self.handle, 'WINDOW')
            self.handle = None
