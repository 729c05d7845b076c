"""The grasp set-up of issue 12: a Rigify-generated human's left FK hand and a 4 cm ball beside it.

The policy turns the forearm, the hand and the index and thumb controls (their FK bones, no limits
beyond the rig's own); the index and thumb tips must close onto the ball from opposite sides. The
ball sits 4.5 cm in front of (world -Y) and 1.8 cm above the point midway between the two fingertips
at rest, so the hand must turn and close to reach it: about 5 cm (0.09 chain lengths) from the rest
pose's fingertips.
"""

from __future__ import annotations

import bpy
from mathutils import Vector

from . import scenes

RIGIFY_HAND = {
    "controls": ["forearm_fk.L", "hand_fk.L", "f_index.01.L", "f_index.02.L", "f_index.03.L",
                 "thumb.01.L", "thumb.02.L", "thumb.03.L"],
    "effector": "DEF-hand.L",
    "fingertips": ["DEF-f_index.03.L", "DEF-thumb.03.L"],
}
BALL_RADIUS = 0.02  # a 4 cm ball
BALL_OFFSET = (0.0, -0.045, 0.018)  # from the fingertips' midpoint at rest


def add_ball(name: str, location, radius: float = BALL_RADIUS) -> bpy.types.Object:
    """A UV sphere mesh (the object to grip)."""
    bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, location=location, segments=24, ring_count=12)
    ball = bpy.context.active_object
    assert ball is not None
    ball.name, ball.color = name, (0.9, 0.3, 0.2, 1.0)
    return ball


def build_rigify_grasp(offset=BALL_OFFSET) -> dict[str, bpy.types.Object]:
    """An empty scene with the Rigify human (arms in FK) and ``Ball`` beside its left hand."""
    from ...headless import quiet_blender

    scenes.empty_scene()
    with quiet_blender():  # Rigify prints its progress
        rig = scenes.build_rigify_human(fk_arms=True)
    tips = [rig.matrix_world @ rig.pose.bones[name].tail for name in RIGIFY_HAND["fingertips"]]
    ball = add_ball("Ball", (tips[0] + tips[1]) / 2 + Vector(offset))
    return {"rig": rig, "ball": ball}


def grasp_selection(config) -> None:
    """Point ``config`` (a TrainConfig) at the set-up: task grasp, the hand's controls, the fingertips, Ball."""
    config.task = "grasp"
    sel = config.rig
    sel.rig, sel.controls, sel.effector = "rig", list(RIGIFY_HAND["controls"]), RIGIFY_HAND["effector"]
    sel.tracked, sel.target, sel.region = list(RIGIFY_HAND["fingertips"]), "Ball", ""
