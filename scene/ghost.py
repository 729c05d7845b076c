"""Lines and points drawn in the 3D viewport while a preview plays (the bpy edge; no family's business).

Nothing is added to the scene: a ``SpaceView3D`` draw handler draws the geometry and is removed when the
preview ends; :meth:`GhostDrawer.update` replaces the geometry (a ghost that plays along with the preview).
Used by the pins' poses (``scene/kinematic/ghost.py``) and the physics track task's reference clip.
"""

from __future__ import annotations

import bpy
import numpy as np

GHOST_COLOR = (0.35, 0.8, 1.0, 0.8)
POINT_COLOR = (1.0, 0.6, 0.15, 1.0)


class GhostDrawer:
    """A 3D-viewport draw handler for ghost lines and points; :meth:`remove` takes it away."""

    def __init__(self, segments: np.ndarray, points: np.ndarray):
        self.segments = np.asarray(segments, dtype=np.float32).reshape(-1, 3)
        self.points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        self.handle = bpy.types.SpaceView3D.draw_handler_add(self.draw, (), 'WINDOW', 'POST_VIEW')

    def update(self, segments: np.ndarray, points: np.ndarray | None = None) -> None:
        self.segments = np.asarray(segments, dtype=np.float32).reshape(-1, 3)
        if points is not None:
            self.points = np.asarray(points, dtype=np.float32).reshape(-1, 3)

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
