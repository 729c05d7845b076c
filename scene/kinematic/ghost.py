"""The pins' poses drawn as a ghost in the 3D viewport while the preview plays (the bpy edge).

Each pose pin is drawn as the rig's compiled bones in that pose (a line per bone, from the twin's forward
kinematics, which is Blender's own evaluation: the twin is verified exact), each effector pin as a point
where the bone must be. Nothing is added to the scene: a ``SpaceView3D`` draw handler draws the lines and
is removed when the preview ends. The geometry is computed once, in numpy, when the training starts.
"""

from __future__ import annotations

# no bpy: the pins' ghost geometry is numpy; ``scene/ghost.py`` draws it

import numpy as np

from ...envs.kinematic.twin import RigTwin
from ..ghost import GhostDrawer

__all__ = ["GhostDrawer", "ghost_geometry"]


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
