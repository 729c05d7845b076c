"""Scenes with an animator's keys for the pins' tests, benchmark and demo (the bpy edge).

An arm whose controls are keyed at a few frames (the blocking an animator would do), and a cup placed
where the hand can reach at another frame: the pose the hand would have there is posed in Blender, the
cup put at its tail, and the pose put back, so the reach is always possible.
"""

from __future__ import annotations

import bpy
from mathutils import Quaternion, Vector

from ..anim import assign_action
from . import scenes

# The demo arm's blocking: frame -> bone -> (axis, angle) of a rotation from the rest pose.
CHAIN_POSES = {
    1: {"upper_arm": ((0, 0, 1), 0.0), "forearm": ((0, 0, 1), 0.0), "hand": ((0, 0, 1), 0.0)},
    30: {"upper_arm": ((0, 0, 1), 0.7), "forearm": ((0, 0, 1), 0.9), "hand": ((1, 0, 0), 0.4)},
    60: {"upper_arm": ((0, 0, 1), -0.4), "forearm": ((0, 0, 1), 0.5), "hand": ((0, 0, 1), -0.3)},
}
CHAIN_REACH = {"upper_arm": ((0, 0, 1), 0.2), "forearm": ((0, 0, 1), 1.3), "hand": ((0, 0, 1), 0.4)}

# The Rigify human's left FK arm: the arm hangs from the shoulder at rest (pointing out and down).
RIGIFY_POSES = {
    1: {"upper_arm_fk.L": ((1, 0, 0), 0.0), "forearm_fk.L": ((1, 0, 0), 0.0), "hand_fk.L": ((1, 0, 0), 0.0)},
    30: {"upper_arm_fk.L": ((1, 0, 0), 0.8), "forearm_fk.L": ((1, 0, 0), 0.9), "hand_fk.L": ((0, 0, 1), 0.3)},
    60: {"upper_arm_fk.L": ((0, 0, 1), -0.5), "forearm_fk.L": ((1, 0, 0), 0.3), "hand_fk.L": ((1, 0, 0), -0.3)},
}
RIGIFY_REACH = {"upper_arm_fk.L": ((1, 0, 0), 1.1), "forearm_fk.L": ((1, 0, 0), 0.6), "hand_fk.L": ((1, 0, 0), 0.2)}


def _set_pose(obj, pose: dict) -> None:
    for name, (axis, angle) in pose.items():
        pb = obj.pose.bones[name]
        q = Quaternion(axis, angle)
        if pb.rotation_mode == 'QUATERNION':
            pb.rotation_quaternion = q
        elif pb.rotation_mode == 'AXIS_ANGLE':
            pb.rotation_axis_angle = (q.angle, *q.axis)
        else:
            pb.rotation_euler = q.to_euler(pb.rotation_mode)


def key_poses(obj, poses: dict[int, dict], action_name: str = "Keys") -> bpy.types.Action:
    """Key ``poses`` (frame -> bone -> (axis, angle)) on ``obj``'s bones into a new Action ``action_name``, which
    becomes the rig's Action. The pose at the first key is left on the rig."""
    action = bpy.data.actions.new(action_name)
    assign_action(obj, action)
    for frame, pose in sorted(poses.items()):
        _set_pose(obj, pose)
        for name in pose:
            pb = obj.pose.bones[name]
            channel = {'QUATERNION': "rotation_quaternion", 'AXIS_ANGLE': "rotation_axis_angle"}.get(
                pb.rotation_mode, "rotation_euler")
            pb.keyframe_insert(channel, frame=frame)
    bpy.context.scene.frame_set(min(poses))
    return action


def tail_in_pose(obj, pose: dict, bone: str) -> Vector:
    """World position of ``bone``'s tail with ``pose`` put on the rig (the rig's pose is put back)."""
    saved = {name: (tuple(pb.rotation_quaternion), tuple(pb.rotation_euler), tuple(pb.rotation_axis_angle))
             for name, pb in obj.pose.bones.items() if name in pose}
    anim_data = obj.animation_data
    action = anim_data.action if anim_data is not None else None
    if anim_data is not None:
        anim_data.action = None  # the keys would win over the pose
    try:
        _set_pose(obj, pose)
        bpy.context.view_layer.update()
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        return ev.matrix_world @ ev.pose.bones[bone].tail
    finally:
        for name, (q, e, aa) in saved.items():
            pb = obj.pose.bones[name]
            pb.rotation_quaternion, pb.rotation_euler, pb.rotation_axis_angle = q, e, aa
        if anim_data is not None:
            assign_action(obj, action)
        bpy.context.view_layer.update()


def add_cup(location, name: str = "Cup") -> bpy.types.Object:
    """A small cylinder (renders in Workbench, unlike an empty) standing at ``location``."""
    bpy.ops.mesh.primitive_cylinder_add(radius=0.035, depth=0.09, location=tuple(location))
    cup = bpy.context.active_object
    assert cup is not None
    cup.name = name
    cup.color = (0.9, 0.25, 0.2, 1.0)
    return cup


def build_pinned_chain() -> dict:
    """The demo arm keyed at frames 1, 30 and 60 ("Keys"), a cup it can reach at frame 45; frames 1-60."""
    scene = scenes.empty_scene()
    scene.frame_start, scene.frame_end = 1, 60
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"))
    cup = add_cup(tail_in_pose(arm, CHAIN_REACH, "hand"))
    action = key_poses(arm, CHAIN_POSES)
    return {"rig": arm, "cup": cup, "action": action, "controls": ["upper_arm", "forearm", "hand"],
            "effector": "hand"}


def pin_rigify_arm(rig) -> dict:
    """On a generated Rigify human (FK arms): the left arm keyed at frames 1, 30 and 60 ("ArmKeys") and a
    cup it can reach at frame 45; frames 1-60."""
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 60
    controls = list(scenes.RIGIFY_FK_ARM["controls"])
    effector = scenes.RIGIFY_FK_ARM["tracked"][0]
    cup = add_cup(tail_in_pose(rig, RIGIFY_REACH, effector))
    action = key_poses(rig, RIGIFY_POSES, "ArmKeys")
    return {"rig": rig, "cup": cup, "action": action, "controls": controls, "effector": effector}


def keyed_reach(obj, pose: dict, frames: tuple[int, int], action_name: str = "Reach",
                hold_until: int | None = None) -> bpy.types.Action:
    """A reference reach for a style clip: ``obj``'s bones turning from rest to ``pose`` over ``frames`` with
    Blender's default Bézier easing (slow in, slow out), then (``hold_until``) holding the pose until that
    frame. The rig's own Action is kept."""
    anim_data = obj.animation_data
    previous = anim_data.action if anim_data is not None else None
    rest = {name: (axis, 0.0) for name, (axis, _) in pose.items()}
    keys = {frames[0]: rest, frames[1]: pose, **({hold_until: pose} if hold_until else {})}
    action = key_poses(obj, keys, action_name)
    assign_action(obj, previous)
    return action
