"""Grasp's success: the fingertips on the surface with the object between them (no bpy)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from rig_dojo.envs.kinematic.grasp import GraspTask


def _on_ball(degrees_apart: float, radius: float = 0.04) -> np.ndarray:
    """Two fingertips on a ball around the origin, ``degrees_apart`` seen from its centre."""
    half = math.radians(degrees_apart) / 2
    return radius * np.array([[[math.sin(half), math.cos(half), 0.0], [-math.sin(half), math.cos(half), 0.0]]])


def test_the_object_is_between_fingertips_on_opposite_sides_not_on_one_side():
    task = SimpleNamespace(center=np.zeros(3))
    assert GraspTask.enclosed(task, _on_ball(180.0))[0]  # a pinch across the ball
    assert GraspTask.enclosed(task, _on_ball(120.0))[0]
    assert not GraspTask.enclosed(task, _on_ball(60.0))[0]  # both tips on one side: touching, not holding
    assert not GraspTask.enclosed(task, _on_ball(0.0))[0]
    # far from the object the tips' spread is no grip either: the mean is as far as the tips
    assert not GraspTask.enclosed(task, _on_ball(20.0) + np.array([1.0, 0.0, 0.0]))[0]
