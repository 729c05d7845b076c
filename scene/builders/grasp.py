"""The grasp set-up of issue 12: a Rigify-generated human's left FK hand and a 4 cm ball beside it.

The policy turns the forearm, the hand and the index and thumb controls (their FK bones, no limits
beyond the rig's own); the index and thumb tips must close onto the ball from opposite sides. The
ball sits 4.5 cm in front of (world -Y) and 1.8 cm above the point midway between the two fingertips
at rest, so the hand must turn and close to reach it: about 5 cm (0.09 chain lengths) from the rest
pose's fingertips.
"""

from __future__ import annotations

from collections.abc import Sequence

import bpy
import numpy as np
from mathutils import Quaternion, Vector

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
    ball = add_ball_beside(rig, RIGIFY_HAND["fingertips"], offset, BALL_RADIUS)
    return {"rig": rig, "ball": ball}


def grasp_selection(config) -> None:
    """Point ``config`` (a TrainConfig) at the set-up: task grasp, the hand's controls, the fingertips, Ball."""
    config.task = "grasp"
    sel = config.rig
    sel.rig, sel.controls, sel.effector = "rig", list(RIGIFY_HAND["controls"]), RIGIFY_HAND["effector"]
    sel.tracked, sel.target, sel.region = list(RIGIFY_HAND["fingertips"]), "Ball", ""


FINGERS = ("f_index", "f_middle", "f_ring", "f_pinky", "thumb")
RIGIFY_FIVE = {  # the same hand with all five fingers (the same ball: the whole hand closes on it)
    "controls": ["forearm_fk.L", "hand_fk.L"] + [f"{finger}.0{k}.L" for finger in FINGERS for k in (1, 2, 3)],
    "effector": "DEF-hand.L",
    "fingertips": [f"DEF-{finger}.03.L" for finger in FINGERS],
}


def add_ball_beside(rig: bpy.types.Object, fingertips: Sequence[str], offset, radius: float,
                    name: str = "Ball") -> bpy.types.Object:
    """A ball at ``offset`` (world) from the mean of ``fingertips``' tails as the rig stands."""
    tips = [rig.matrix_world @ rig.pose.bones[n].tail for n in fingertips]
    return add_ball(name, sum(tips, Vector()) / len(tips) + Vector(offset), radius)


def rigify_five_selection(config) -> None:
    """Point ``config`` at the Rigify hand with all five fingers (17 controls, five fingertips) and ``Ball``."""
    grasp_selection(config)
    config.rig.controls, config.rig.tracked = list(RIGIFY_FIVE["controls"]), list(RIGIFY_FIVE["fingertips"])


CLAW = {  # build_claw: a hand of three fingers (two and a thumb), bones of its own lengths, rolls and rotation modes
    "controls": ["forearm", "palm", "finger_a.01", "finger_a.02", "finger_a.03", "finger_b.01", "finger_b.02",
                 "thumb.01", "thumb.02"],
    "effector": "palm",
    "fingertips": ["finger_a.03", "finger_b.02", "thumb.02"],
}


def build_claw(location=(0.3, -0.2, 1.0), rotation=(0.4, -0.3, 0.9),
               scale: float = 1.3) -> dict[str, bpy.types.Object]:
    """A three-fingered hand built with bpy (a forearm, a palm, a three-bone and a two-bone finger and a two-bone
    thumb, other lengths and rolls than any Rigify hand; Euler and quaternion controls; IK limits that let the
    fingers curl toward the palm's -Z side), on a turned and scaled object, and a ``Ball`` under its fingers: the
    sphere through the fingertips when every finger and thumb joint is curled 0.9 rad."""
    data = bpy.data.armatures.new("Claw")
    rig = bpy.data.objects.new("Claw", data)
    bpy.context.scene.collection.objects.link(rig)
    rig.location, rig.rotation_euler, rig.scale = location, rotation, (scale,) * 3
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode='EDIT')
    eb = data.edit_bones

    def bone(name, head, tail, parent=None, roll=0.0, connect=False):
        b = eb.new(name)
        b.head, b.tail, b.roll = Vector(head), Vector(tail), roll
        if parent is not None:
            b.parent, b.use_connect = eb[parent], connect
        return b

    bone("forearm", (0, 0, 0), (0, 0.24, 0))
    bone("palm", (0, 0.24, 0), (0, 0.34, 0.005), "forearm", connect=True)
    head, parent = Vector((0.022, 0.345, 0.0)), "palm"
    for k, length in enumerate((0.05, 0.035, 0.028)):
        tail = head + Vector((0.004, length, -0.004 * k))
        bone(f"finger_a.0{k + 1}", head, tail, parent, connect=k > 0)
        head, parent = tail, f"finger_a.0{k + 1}"
    head, parent = Vector((-0.024, 0.34, 0.0)), "palm"
    for k, length in enumerate((0.07, 0.055)):
        tail = head + Vector((-0.006, length, -0.006 * k))
        bone(f"finger_b.0{k + 1}", head, tail, parent, roll=0.3, connect=k > 0)
        head, parent = tail, f"finger_b.0{k + 1}"
    head, parent = Vector((0.04, 0.27, -0.015)), "palm"
    for k, length in enumerate((0.05, 0.04)):
        tail = head + Vector((0.65, 0.55, -0.5)).normalized() * length
        bone(f"thumb.0{k + 1}", head, tail, parent, roll=0.8, connect=k > 0)
        head, parent = tail, f"thumb.0{k + 1}"
    bpy.ops.object.mode_set(mode='OBJECT')
    for pb in rig.pose.bones:
        pb.rotation_mode = 'QUATERNION' if pb.name.startswith("finger_b") else 'XYZ'
    curl = ((-1.6, 0.2), None, (-0.3, 0.3))
    scenes.limit_rotations(rig, {
        "forearm": ((-0.8, 0.8), (-1.2, 1.2), (-0.6, 0.6)), "palm": ((-1.0, 1.0), None, (-0.5, 0.5)),
        "finger_a.01": curl, "finger_a.02": ((-1.6, 0.1), None, None), "finger_a.03": ((-1.4, 0.1), None, None),
        "finger_b.01": ((-1.5, 0.3), (-0.2, 0.2), (-0.3, 0.3)), "finger_b.02": ((-1.6, 0.1), None, None),
        "thumb.01": ((-1.2, 0.5), (-0.5, 0.5), (-0.8, 0.8)), "thumb.02": ((-1.2, 0.2), None, None)})
    # the ball the fingers hold when every finger and thumb joint is curled 0.9 rad toward the palm: the sphere
    # through the three fingertips of that pose, centred in their plane (so that pose grips it exactly)
    curled = {}
    for pb in rig.pose.bones:
        if pb.name.startswith(("finger", "thumb")):
            curled[pb.name] = (pb.rotation_euler.copy(), pb.rotation_quaternion.copy())
            if pb.rotation_mode == 'QUATERNION':
                pb.rotation_quaternion = Quaternion((1.0, 0.0, 0.0), -0.9)
            else:
                pb.rotation_euler = (-0.9, 0.0, 0.0)
    bpy.context.view_layer.update()
    a, b, c = (np.array(rig.matrix_world @ rig.pose.bones[n].tail) for n in CLAW["fingertips"])
    for name, (euler, quaternion) in curled.items():
        rig.pose.bones[name].rotation_euler, rig.pose.bones[name].rotation_quaternion = euler, quaternion
    bpy.context.view_layer.update()
    ab, ac = b - a, c - a
    normal = np.cross(ab, ac)
    center = a + (np.cross(normal, ab) * ac.dot(ac) + np.cross(ac, normal) * ab.dot(ab)) / (2 * normal.dot(normal))
    ball = add_ball("Ball", Vector(center), float(np.linalg.norm(a - center)))
    return {"rig": rig, "ball": ball}


def claw_selection(config) -> None:
    """Point ``config`` at :func:`build_claw`'s hand: task grasp, its controls, fingertips and ``Ball``."""
    config.task = "grasp"
    sel = config.rig
    sel.rig, sel.controls, sel.effector = "Claw", list(CLAW["controls"]), CLAW["effector"]
    sel.tracked, sel.target, sel.region = list(CLAW["fingertips"]), "Ball", ""
